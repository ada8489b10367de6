/// Native LabMate commands, run through the "Execute Commands" action whose JSON file is
/// `{"commands": [{"command_id": "ReadVersion", "payload": {}}]}`; the run's results list the responses.
enum LabMate {
    static func execute(_ file: JSONValue?) -> GenieRun {
        guard let commands = file?["commands"]?.arrayValue else {
            return .failure(
                after: 1,
                "Commands file must be JSON of the form {\"commands\": [{\"command_id\": ..., \"payload\": {...}}]}",
                output: "labmate: could not parse commands file\n"
            )
        }
        var responses: [JSONValue] = []
        var output = ""
        for command in commands {
            let id = command["command_id"]?.stringValue ?? ""
            let payload = command["payload"] ?? [:]
            guard let response = respond(id, payload) else {
                output += "labmate: \(id) rejected\n"
                return .failure(
                    after: Double(responses.count + 1),
                    "LabMate rejected command '\(id)': unknown command_id (known: \(known.joined(separator: ", ")))",
                    output: output
                )
            }
            output += "labmate: \(id) ok\n"
            responses.append(["command_id": .string(id), "response": response])
        }
        return .success(
            after: Double(max(1, commands.count)),
            "Executed \(commands.count) LabMate command\(commands.count == 1 ? "" : "s")",
            output: output,
            results: ["responses": .array(responses)]
        )
    }

    static let known = ["ReadVersion", "GetStatus", "Home", "SetLight"]

    private static func respond(_ id: String, _ payload: JSONValue) -> JSONValue? {
        switch id {
        case "ReadVersion": ["firmware": "2.7.1", "hardware": "LM-B", "protocol": 3]
        case "GetStatus": ["state": "idle", "door": "closed", "temperatureCelsius": 22.4]
        case "Home": ["homed": true]
        case "SetLight": ["light": .bool(payload["on"]?.boolValue ?? true)]
        default: nil
        }
    }
}
