import MicroHTTPServer
import NIOCore

extension HTTP1ResponseParser {
    enum HeadScan {
        /// The head is the first `length` bytes.
        case complete(length: Int)
        case incomplete(scanned: Int)
        case tooLarge
    }

    /// What the bytes at the reader index held while a head was expected.
    enum HeadRead {
        case incomplete(scanned: Int)
        /// A 1xx interim response of `length` bytes.
        case interim(length: Int)
        /// A final response's head of `length` bytes, its field lines from `fieldsStart`.
        case final(Head, length: Int, fieldsStart: Int)
    }

    mutating func readHead(
        _ buffer: inout ByteBuffer, isHead: Bool, scanned: Int, _ emit: (consuming Event) -> Void
    ) throws(Error) -> Bool {
        let limit = maxHeadBytes
        // One look at the bytes: find the end of the head, then parse it where it lies.
        let read = try buffer.withUnsafeReadableBytes { (bytes) throws(Error) -> HeadRead in
            switch Self.scanHead(bytes, from: scanned, limit: limit) {
            case .tooLarge:
                throw Error(.headTooLarge, "upstream response head is larger than \(limit) bytes")
            case .incomplete(let scanned):
                return .incomplete(scanned: scanned)
            case .complete(let length):
                let headBytes = UnsafeRawBufferPointer(rebasing: bytes[0..<length])
                guard let (final, fieldsStart) = try Self.parseHead(headBytes, isHead: isHead) else {
                    return .interim(length: length)
                }
                return .final(final, length: length, fieldsStart: fieldsStart)
            }
        }
        var head: Head
        switch consume read {
        case .incomplete(let scanned):
            state = .head(isHead: isHead, scanned: scanned)
            return false
        case .interim(let length):
            // Skipped: the final response follows on the same connection.
            buffer.moveReaderIndex(forwardBy: length)
            state = .head(isHead: isHead, scanned: 0)
            return true
        case .final(let final, let length, let fieldsStart):
            head = final
            // A slice, not a copy: the exchange reads the fields where they came, before the next read.
            head.fieldLines = buffer.getSlice(at: buffer.readerIndex + fieldsStart, length: length - fieldsStart)!
            buffer.moveReaderIndex(forwardBy: length)
        }
        let framing = head.framing
        emit(.head(head))
        switch framing {
        case .none, .length(0):
            finish(emit)
            return false
        case .length(let count):
            state = .length(remaining: count)
        case .chunked:
            state = .chunkLine(ChunkLine())
        case .untilClose:
            state = .untilClose
        }
        return true
    }

    /// Looks for the blank line that ends a head, resuming after the `scanned` bytes already known not to end it.
    static func scanHead(_ bytes: UnsafeRawBufferPointer, from scanned: Int, limit: Int) -> HeadScan {
        let end = min(bytes.count, limit)
        var index = min(max(scanned, 0), end)
        while let lf = firstIndex(of: ASCII.lf, bytes, from: index, to: end) {
            // The line ending here is empty (a lone LF or CRLF).
            if lf == 0 || bytes[lf - 1] == ASCII.lf
                || (bytes[lf - 1] == ASCII.cr && (lf == 1 || bytes[lf - 2] == ASCII.lf))
            {
                return .complete(length: lf + 1)
            }
            index = lf + 1
        }
        // Not within the first `limit` bytes: the head, once complete, would be larger.
        return bytes.count >= limit && bytes.count > 0 ? .tooLarge : .incomplete(scanned: end)
    }

    /// What the header fields say about framing, gathered while they are parsed.
    struct FramingFields {
        var transferEncoding = false
        var chunkedLast = false
        var contentLength: Int?
        var contentLengthBad = false
        var close = false
        var keepAlive = false
        /// A `Connection` element other than `close` and `keep-alive` (`Head.connectionNamesFields`).
        var namesFields = false
    }

    /// Checks a complete head (its last line is the empty one) and reads its status and framing; nil for a 1xx
    /// interim response. The head's `fieldLines` are left empty: they start at `fieldsStart` of `head`.
    static func parseHead(_ head: UnsafeRawBufferPointer, isHead: Bool) throws(Error) -> (Head, fieldsStart: Int)? {
        var cursor = 0
        let statusLine = nextLine(head, &cursor)
        let (status, minorVersion) = try parseStatusLine(head, statusLine)
        if status == 101 {
            throw Error(.switchingProtocols, "upstream answered 101 Switching Protocols, which is not supported")
        }
        let fieldsStart = cursor
        var fields = FramingFields()
        while true {
            let line = nextLine(head, &cursor)
            if line.isEmpty { break }
            try parseField(head, line, &fields)
        }
        if status < 200 { return nil }
        return (try framedHead(status: status, http10: minorVersion == 0, isHead: isHead, fields), fieldsStart)
    }

    /// The head a final response's status and framing fields make, its `fieldLines` empty.
    private static func framedHead(status: Int, http10: Bool, isHead: Bool, _ fields: FramingFields) throws(Error)
        -> Head
    {
        let lines = ByteBuffer()
        let named = fields.namesFields
        let reusable = http10 ? fields.keepAlive && !fields.close : !fields.close
        if isHead || status == 204 || status == 304 {
            return Head(
                status: status, fieldLines: lines, framing: .none, keepAlive: reusable, connectionNamesFields: named)
        }
        if fields.transferEncoding {
            // RFC 9112 6.1 and 6.3: with Content-Length too, or on HTTP/1.0, the framing is suspect, so close after.
            let chunked = fields.chunkedLast
            let clean = chunked && fields.contentLength == nil && !fields.contentLengthBad && !http10
            return Head(
                status: status, fieldLines: lines, framing: chunked ? .chunked : .untilClose,
                keepAlive: clean && reusable, connectionNamesFields: named)
        }
        if fields.contentLengthBad {
            throw Error(.badContentLength, "upstream sent an invalid or conflicting Content-Length")
        }
        if let length = fields.contentLength {
            return Head(
                status: status, fieldLines: lines, framing: .length(length), keepAlive: reusable,
                connectionNamesFields: named)
        }
        return Head(
            status: status, fieldLines: lines, framing: .untilClose, keepAlive: false, connectionNamesFields: named)
    }

    /// The line starting at `cursor` without its LF or CRLF; moves `cursor` to where the next line starts.
    @inline(__always)
    static func nextLine(_ bytes: UnsafeRawBufferPointer, _ cursor: inout Int) -> Range<Int> {
        let start = cursor
        let index = firstIndex(of: ASCII.lf, bytes, from: start, to: bytes.count) ?? bytes.count
        cursor = min(index + 1, bytes.count)
        if index > start && bytes[index - 1] == ASCII.cr { return start..<index - 1 }
        return start..<index
    }

    /// `HTTP/1.x SSS reason`, the reason possibly empty or absent; returns the status and x.
    static func parseStatusLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) throws(Error) -> (Int, Int) {
        let malformed = Error(.malformedStatusLine, "upstream sent a malformed status line")
        let start = line.lowerBound
        guard line.count >= 12, equals(UnsafeRawBufferPointer(rebasing: bytes[start..<start + 7]), "HTTP/1.") else {
            throw malformed
        }
        guard let minor = digit(bytes[start + 7]), bytes[start + 8] == ASCII.space,
            let hundreds = digit(bytes[start + 9]), let tens = digit(bytes[start + 10]),
            let units = digit(bytes[start + 11]), line.count == 12 || bytes[start + 12] == ASCII.space
        else { throw malformed }
        let status = hundreds * 100 + tens * 10 + units
        guard (100...599).contains(status) else { throw malformed }
        for index in start + 12..<line.upperBound where bytes[index] == 0 || bytes[index] == ASCII.cr {
            throw malformed
        }
        return (status, minor)
    }

    /// One `name: value` line (without its line ending).
    static func parseField(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, _ fields: inout FramingFields)
        throws(Error)
    {
        let start = line.lowerBound
        let end = line.upperBound
        if bytes[start] == ASCII.space || bytes[start] == ASCII.tab {
            throw Error(.malformedHeader, "upstream sent a folded header line (obs-fold)")
        }
        // The name runs to the first colon and must be a token.
        let colon = firstIndex(of: ASCII.colon, bytes, from: start, to: end) ?? end
        let name = UnsafeRawBufferPointer(rebasing: bytes[start..<colon])
        guard colon > start, colon < end, name.allSatisfy(isTokenByte) else {
            throw Error(.malformedHeader, "upstream sent a header line that is not `token: value`")
        }
        var valueStart = colon + 1
        var valueEnd = end
        while valueStart < valueEnd && isWhitespace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        if containsNULOrCR(bytes, from: valueStart, to: valueEnd) {
            throw Error(.malformedHeader, "upstream sent a header value containing NUL or a bare CR")
        }
        let value = valueStart..<valueEnd
        if equalsLowercase(name, "content-length") {
            noteContentLength(bytes, value, &fields)
        } else if equalsLowercase(name, "transfer-encoding") {
            fields.transferEncoding = true
            var last: Range<Int>?
            HTTPHeaders.forEachListElement(bytes, in: value) { element in if !element.isEmpty { last = element } }
            // The final coding is the last element of all Transfer-Encoding lines together.
            if let last {
                fields.chunkedLast = equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[last]), "chunked")
            }
        } else if equalsLowercase(name, "connection") {
            HTTPHeaders.forEachListElement(bytes, in: value) { element in
                let token = UnsafeRawBufferPointer(rebasing: bytes[element])
                if equalsLowercase(token, "close") {
                    fields.close = true
                } else if equalsLowercase(token, "keep-alive") {
                    fields.keepAlive = true
                } else if !token.isEmpty {
                    fields.namesFields = true
                }
            }
        }
    }

    /// Calls `body` with the name and value of each line of `lines`, field lines `parseField` has checked, up to the
    /// first empty line or the end. Never traps, whatever the bytes: a line without a colon is skipped.
    static func forEachField(
        _ lines: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) {
        var cursor = 0
        while cursor < lines.count {
            let line = nextLine(lines, &cursor)
            if line.isEmpty { return }
            guard let colon = firstIndex(of: ASCII.colon, lines, from: line.lowerBound, to: line.upperBound) else {
                continue
            }
            var valueStart = colon + 1
            var valueEnd = line.upperBound
            while valueStart < valueEnd && isWhitespace(lines[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isWhitespace(lines[valueEnd - 1]) { valueEnd -= 1 }
            body(
                UnsafeRawBufferPointer(rebasing: lines[line.lowerBound..<colon]),
                UnsafeRawBufferPointer(rebasing: lines[valueStart..<valueEnd]))
        }
    }

    /// Every element of the list must be the same decimal number of at most 18 digits (so it fits an `Int`).
    static func noteContentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>, _ fields: inout FramingFields) {
        var elements = 0
        HTTPHeaders.forEachListElement(bytes, in: value) { element in
            elements += 1
            guard !element.isEmpty, element.count <= 18 else {
                fields.contentLengthBad = true
                return
            }
            var number = 0
            for index in element {
                guard let digit = digit(bytes[index]) else {
                    fields.contentLengthBad = true
                    return
                }
                number = number * 10 + digit
            }
            if let previous = fields.contentLength, previous != number { fields.contentLengthBad = true }
            fields.contentLength = number
        }
        if elements == 0 { fields.contentLengthBad = true }
    }
}
