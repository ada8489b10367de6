import Foundation

/// What the platform works out from a stored file's bytes: size, checksum, preview, and whether it is refused.
enum LabricFileBytes {
    /// The inlined preview covers this many bytes.
    static let previewBytes = 64 * 1024

    /// Size in whole kilobytes, rounded up, as `size_kilobytes` reports it.
    static func kilobytes(_ count: Int) -> Int { (count + 1023) / 1024 }

    /// CRC32C (Castagnoli) of the bytes, base64 of its big-endian form, as Google Cloud Storage reports `crc32c`.
    static func crc32c(_ bytes: [UInt8]) -> String {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        crc ^= 0xFFFF_FFFF
        let bigEndian = [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        return Data(bigEndian).base64EncodedString()
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }

    /// A best-effort UTF-8 decode of the first 64 KiB, and whether the file is longer than that. A multi-byte
    /// character cut by the limit is left out rather than shown as a replacement character.
    static func preview(_ bytes: [UInt8]) -> (text: String, truncated: Bool) {
        guard bytes.count > previewBytes else { return (String(decoding: bytes, as: UTF8.self), false) }
        var end = previewBytes
        // Step back over continuation bytes to the start of the cut character, then drop it if it is incomplete.
        var start = end
        while start > end - 4, start > 0, bytes[start - 1] & 0xC0 == 0x80 { start -= 1 }
        if start > 0 {
            let lead = bytes[start - 1]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if length > 1, start - 1 + length > end { end = start - 1 }
        }
        return (String(decoding: bytes[..<end], as: UTF8.self), true)
    }

    /// ELF, Mach-O and PE/COFF images: the platform discards them on upload.
    static func isNativeExecutable(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return bytes.starts(with: [0x4D, 0x5A]) }
        let magic = Array(bytes[0..<4])
        let machO: [[UInt8]] = [
            [0xFE, 0xED, 0xFA, 0xCE], [0xFE, 0xED, 0xFA, 0xCF], [0xCE, 0xFA, 0xED, 0xFE], [0xCF, 0xFA, 0xED, 0xFE],
            [0xCA, 0xFE, 0xBA, 0xBE],
        ]
        return magic == [0x7F, 0x45, 0x4C, 0x46] || machO.contains(magic) || bytes.starts(with: [0x4D, 0x5A])
    }

    /// Width and height from a PNG's IHDR chunk, or nil when the bytes are not a PNG.
    static func pngSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 24, bytes.starts(with: signature) else { return nil }
        func int(at offset: Int) -> Int { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (int(at: 16), int(at: 20))
    }
}
