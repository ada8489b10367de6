#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads the timing claims of a JWT without verifying it: labgate only needs to know when a token it was just given
/// runs out, and the upstream that issued it remains the judge of its validity.
public enum JWT {
    /// The claims labgate reads, in seconds since 1970.
    public struct Claims: Sendable, Equatable, Decodable {
        public var exp: Double?
        public var iat: Double?

        public init(exp: Double?, iat: Double?) {
            self.exp = exp
            self.iat = iat
        }

        public init(from decoder: any Decoder) throws {
            // A claim of the wrong type counts as absent rather than making the whole token unreadable.
            let container = try decoder.container(keyedBy: CodingKeys.self)
            exp = try? container.decodeIfPresent(Double.self, forKey: .exp)
            iat = try? container.decodeIfPresent(Double.self, forKey: .iat)
        }

        private enum CodingKeys: String, CodingKey { case exp, iat }
    }

    /// The `exp` and `iat` claims of a JWT, or nil when the token is not a JWT with a JSON object payload.
    public static func claims(of token: String) -> Claims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 || parts.count == 5, let payload = base64URLDecode(parts[1]) else { return nil }
        return try? JSONDecoder().decode(Claims.self, from: Data(payload))
    }

    /// How long a token just received stays valid, or nil when it does not say (the caller then assumes its default).
    ///
    /// With `iat` and `exp` it is the issuer's own span `exp - iat`: the token was just issued by the exchange, and
    /// the span is immune to a skewed local clock and to claims truncated to whole seconds (which can cost a 3-second
    /// token a third of its life). Without `iat` it is `exp - now`, when positive.
    /// - Parameters:
    ///   - token: The token as received.
    ///   - now: The current wall-clock time in seconds since 1970.
    public static func lifetime(of token: String, now: Double) -> Duration? {
        guard let claims = claims(of: token), let exp = claims.exp, exp.isFinite else { return nil }
        let seconds: Double
        if let iat = claims.iat, iat.isFinite, exp > iat {
            seconds = exp - iat
        } else if exp > now {
            seconds = exp - now
        } else {
            return nil
        }
        guard seconds < 365 * 24 * 3600 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded(.down)))
    }

    /// The current wall-clock time in seconds since 1970.
    public static func currentTime() -> Double { Date().timeIntervalSince1970 }

    /// Decodes unpadded (or padded) base64url; nil on any character outside the alphabet.
    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }
}
