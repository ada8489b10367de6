import NIOCore

/// A multipart/form-data body split into its parts (RFC 7578), enough for `POST api/v1/files`.
struct LabricMultipart: Sendable {
    struct Part: Sendable {
        var name: String
        var fileName: String?
        var contentType: String?
        var bytes: [UInt8]
    }

    var parts: [Part] = []

    /// nil when the Content-Type is not multipart/form-data with a boundary, or the body does not follow it.
    init?(contentType: String?, body: ByteBuffer) {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
            let boundary = Self.parameter("boundary", in: contentType)
        else { return nil }
        let bytes = Array(body.readableBytesView)
        let delimiter = Array(("--" + boundary).utf8)
        var cursor = 0
        guard let first = Self.find(delimiter, in: bytes, from: 0) else { return nil }
        cursor = first + delimiter.count
        while cursor + 2 <= bytes.count {
            // "--" after a delimiter closes the body; otherwise a CRLF starts the part's headers.
            if bytes[cursor] == UInt8(ascii: "-"), bytes[cursor + 1] == UInt8(ascii: "-") { return }
            cursor += 2
            guard let headerEnd = Self.find(Array("\r\n\r\n".utf8), in: bytes, from: cursor),
                let next = Self.find(Array("\r\n".utf8) + delimiter, in: bytes, from: headerEnd + 4)
            else { return nil }
            let head = String(decoding: bytes[cursor..<headerEnd], as: UTF8.self)
            var part = Part(name: "", bytes: Array(bytes[(headerEnd + 4)..<next]))
            for line in head.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = String(line[line.index(after: colon)...]).trimmed(" ")
                if name == "content-disposition" {
                    part.name = Self.parameter("name", in: value) ?? ""
                    part.fileName = Self.parameter("filename", in: value)
                } else if name == "content-type" {
                    part.contentType = value
                }
            }
            parts.append(part)
            cursor = next + 2 + delimiter.count
        }
    }

    /// The text of a plain form field.
    func value(_ name: String) -> String? {
        guard let part = parts.first(where: { $0.name == name && $0.fileName == nil }) else { return nil }
        return String(decoding: part.bytes, as: UTF8.self)
    }

    /// A `name=value` or `name="value"` parameter of a header value.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, String(pair[0]).trimmed(" ").lowercased() == name else { continue }
            var value = String(pair[1]).trimmed(" ")
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else {
            return nil
        }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}

extension String {
    fileprivate func trimmed(_ character: Character) -> String {
        var text = Substring(self)
        while text.first == character { text = text.dropFirst() }
        while text.last == character { text = text.dropLast() }
        return String(text)
    }
}
