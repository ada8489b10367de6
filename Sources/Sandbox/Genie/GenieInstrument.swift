/// An instrument onboarded into the simulated LabOS, with its actions.
struct GenieInstrument: Sendable {
    /// 24 hex digits, like `6458048287f19b42eb065089`.
    var id: String
    var name: String
    var type: String
    var manufacturer: String
    var model: String
    var serialNumber: String
    var actions: [GenieAction]

    func action(named name: String) -> GenieAction? {
        actions.first { $0.name == name }
    }

    /// The instrument object; `busy` while one of its commands runs.
    func json(busy: Bool) -> JSONValue {
        [
            "id": .string(id),
            "name": .string(name),
            "type": .string(type),
            "manufacturer": .string(manufacturer),
            "model": .string(model),
            "serialNumber": .string(serialNumber),
            "status": busy ? "busy" : "idle",
            "online": true,
            "actions": .array(actions.map { .string($0.name) }),
        ]
    }
}

/// A small deterministic generator, so simulated readings repeat for the same inputs (SplitMix64).
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed text: String) {
        // FNV-1a of the text: stable across runs, unlike `hashValue`.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        state = hash
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A value in `range`, rounded to three decimals as plate readers report.
    mutating func reading(in range: ClosedRange<Double>) -> Double {
        (Double.random(in: range, using: &self) * 1000).rounded() / 1000
    }
}
