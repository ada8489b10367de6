import Foundation

/// Identifiers as the platform makes them: lowercase UUIDs for records, random hex for key parts and storage tokens.
enum LabricIDs {
    static func uuid() -> String { UUID().uuidString.lowercased() }

    /// `bytes` random bytes as lowercase hex.
    static func hex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        text.reserveCapacity(bytes * 2)
        for _ in 0..<bytes {
            let byte = UInt8.random(in: 0...255, using: &generator)
            text += String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16)
        }
        return text
    }
}
