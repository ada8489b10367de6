import MicroHTTPServer

/// Commands: POST validates and schedules, GET polls (settling what is due), kill aborts, DELETE aborts and removes.
extension GenieAPI {
    /// `{"action": name, "values": [{"parameterId": id-or-name, "value": v}]}` → the command, `running`.
    func createCommand(_ routed: SandboxRouter.Routed) async throws -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        let instrument = try lab.instrument(routed["id"])
        let body = try await Self.jsonBody(routed.request)
        guard let name = body["action"]?.stringValue else {
            throw GenieError.badRequest("the body needs a string 'action' and a 'values' list")
        }
        guard let action = instrument.action(named: name) else {
            let known = instrument.actions.map { "'\($0.name)'" }.joined(separator: ", ")
            throw GenieError(
                400, "unknown_action", "instrument '\(instrument.id)' has no action '\(name)' (actions: \(known))")
        }
        let arguments = try action.validate(body["values"])
        let command = GenieCommand(
            instrumentId: instrument.id,
            action: action.name,
            values: body["values"]?.arrayValue ?? [],
            run: action.run(arguments),
            createdBy: configuration.user,
            now: configuration.clock.now(),
            timeScale: configuration.timeScale
        )
        try lab.add(command)
        faults.increment("genie.commands_created")
        return Self.data(command.json)
    }

    func listCommands(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        let commands = try lab.commands(of: routed["id"], at: configuration.clock.now())
        return Self.data(.array(commands.map(\.json)))
    }

    func getCommand(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(try lab.command(routed["cid"], of: routed["id"], at: configuration.clock.now()).json)
    }

    /// Aborts the command if it is running (it ends in `failure`); a finished one is answered unchanged.
    func killCommand(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(try lab.kill(routed["cid"], of: routed["id"], at: configuration.clock.now()).json)
    }

    /// Aborts and removes the command; answers its last state. A second DELETE is a 404.
    func deleteCommand(_ routed: SandboxRouter.Routed) throws(GenieError) -> HTTPServerResponse {
        try authorizePublicAPI(routed.request)
        return Self.data(try lab.deleteCommand(routed["cid"], of: routed["id"], at: configuration.clock.now()).json)
    }
}
