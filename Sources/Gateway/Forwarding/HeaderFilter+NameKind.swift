extension HeaderFilter {
    /// The header names the rules single out, recognised without lowercasing or hashing the name: the filter runs
    /// twice per forwarded request, and allocating a lowercase copy of every name showed in profiles (issue 7).
    /// The sets `hopByHop`, `droppedFromRequests` and `droppedFromResponses` say the same, for readers and tests.
    enum NameKind: Equatable {
        case other
        /// One of `hopByHop` other than Transfer-Encoding.
        case hopByHop
        case transferEncoding
        case contentLength
        /// Authorization, Host and Expect: labgate sets or handles them itself.
        case requestOnly
        case requestID
        case location

        init(_ name: String) {
            var name = name
            self = name.withUTF8 { Self.classify($0) }
        }

        var isDroppedFromRequests: Bool {
            switch self {
            case .other, .location: false
            case .hopByHop, .transferEncoding, .contentLength, .requestOnly, .requestID: true
            }
        }

        var isDroppedFromResponses: Bool {
            switch self {
            case .other, .location, .requestOnly: false
            case .hopByHop, .transferEncoding, .contentLength, .requestID: true
            }
        }

        static func classify(_ name: UnsafeRawBufferPointer) -> NameKind {
            classify(name.assumingMemoryBound(to: UInt8.self))
        }

        static func classify(_ name: UnsafeBufferPointer<UInt8>) -> NameKind {
            func equals(_ lowercase: StaticString) -> Bool {
                guard lowercase.utf8CodeUnitCount == name.count else { return false }
                let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
                for (byte, want) in zip(name, expected) where byte != want {
                    // Only an ASCII capital of the expected lowercase letter matches, nothing else.
                    guard want >= 0x61, want <= 0x7A, byte == want - 0x20 else { return false }
                }
                return true
            }
            switch name.count {
            case 2: return equals("te") ? .hopByHop : .other
            case 4: return equals("host") ? .requestOnly : .other
            case 6: return equals("expect") ? .requestOnly : .other
            case 7: return equals("trailer") || equals("upgrade") ? .hopByHop : .other
            case 8: return equals("location") ? .location : .other
            case 10: return equals("connection") || equals("keep-alive") ? .hopByHop : .other
            case 12: return equals("x-request-id") ? .requestID : .other
            case 13: return equals("authorization") ? .requestOnly : .other
            case 14: return equals("content-length") ? .contentLength : .other
            case 16: return equals("proxy-connection") ? .hopByHop : .other
            case 17: return equals("transfer-encoding") ? .transferEncoding : .other
            case 18: return equals("proxy-authenticate") ? .hopByHop : .other
            case 19: return equals("proxy-authorization") ? .hopByHop : .other
            default: return .other
            }
        }
    }
}
