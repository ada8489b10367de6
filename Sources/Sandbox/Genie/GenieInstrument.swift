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
