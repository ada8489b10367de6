import Foundation
import MicroHTTPServer
import Testing

@testable import Sandbox

/// Commands: validation against the parameter schemas, simulated time, kill and delete.
@Suite struct GenieCommandTests {
    typealias T = GenieTestSupport
    let clock = ManualClock()
    let shakerCommands = "/public/v1/instruments/6458048287f19b42eb065089/commands"

    func shake(_ time: String, _ rpm: String) -> String {
        #"{"action": "set_timed_shake", "values": [{"parameterId": "Time", "value": \#(time)}, "#
            + #"{"parameterId": "lkwkkevp", "value": \#(rpm)}]}"#
    }

    func post(_ simulator: GenieSimulator, _ body: String, to path: String? = nil) async throws -> T.Reply {
        try await T.send(simulator, "POST", path ?? shakerCommands, bearer: T.publicToken, body: body)
    }

    @Test(arguments: [
        (#""15s""#, #""5000""#, "RPM", "max"),
        (#""15s""#, "-1", "RPM", "min"),
        (#""15s""#, #""fast""#, "RPM", "type"),
        (#""15s""#, "true", "RPM", "type"),
        (#""soon""#, #""500""#, "Time", "type"),
        (#""0.5s""#, #""500""#, "Time", "min"),
        (#""2 days""#, #""500""#, "Time", "type"),
    ])
    func refusesABadValueNamingTheParameter(time: String, rpm: String, parameter: String, rule: String) async throws {
        let simulator = T.simulator(clock: clock)
        let reply = try await post(simulator, shake(time, rpm))
        #expect(reply.status == 400)
        #expect(reply.error?["parameter"]?.stringValue == parameter)
        #expect(reply.error?["rule"]?.stringValue == rule)
        #expect(reply.error?["message"]?.stringValue?.contains("'\(parameter)'") == true)
        let list = try await T.send(simulator, "GET", shakerCommands, bearer: T.publicToken)
        #expect(list.data == [], "a refused command is not created")
    }

    @Test func refusesUnknownActionsAndMissingOrUnknownParameters() async throws {
        let simulator = T.simulator(clock: clock)
        let unknownAction = try await post(simulator, #"{"action": "fly", "values": []}"#)
        #expect(unknownAction.status == 400)
        #expect(unknownAction.error?["message"]?.stringValue?.contains("fly") == true)
        let missing = try await post(
            simulator, #"{"action": "set_timed_shake", "values": [{"parameterId": "RPM", "value": "5"}]}"#)
        #expect(missing.status == 400)
        #expect(missing.error?["parameter"] == "Time")
        #expect(missing.error?["rule"] == "required")
        let extra = try await post(
            simulator, #"{"action": "stop_shake", "values": [{"parameterId": "Speed", "value": "5"}]}"#)
        #expect(extra.error?["parameter"] == "Speed")
        let options = try await post(
            simulator,
            #"{"action": "read_absorbance", "values": [{"parameterId": "Wavelength", "value": "450"}, "#
                + #"{"parameterId": "Plate Type", "value": "6-well"}, {"parameterId": "Read Name", "value": "r"}]}"#,
            to: "/public/v1/instruments/6458049c87f19b42eb06508f/commands"
        )
        #expect(options.error?["parameter"] == "Plate Type")
        #expect(options.error?["rule"] == "options")
    }

    @Test func aValidCommandRunsToSuccessInSimulatedTime() async throws {
        let simulator = T.simulator(clock: clock)
        let created = try await post(simulator, shake(#""15s""#, #""500""#))
        #expect(created.status == 200)
        #expect(created.data?["status"] == "running")
        #expect(created.data?["payload"] == "set_timed_shake")
        #expect(created.data?["values"]?[0]?["value"] == "15s")
        let id = try #require(created.data?["id"]?.stringValue)
        #expect(id.count == 24)
        let path = "\(shakerCommands)/\(id)"

        clock.advance(by: 1.4)  // 15 simulated seconds at 10x is 1.5 s
        #expect(try await T.send(simulator, "GET", path, bearer: T.publicToken).data?["status"] == "running")
        let instrument = try await T.send(
            simulator, "GET", "/public/v1/instruments/6458048287f19b42eb065089", bearer: T.publicToken)
        #expect(instrument.data?["status"] == "busy")

        clock.advance(by: 0.1)
        let done = try await T.send(simulator, "GET", path, bearer: T.publicToken)
        #expect(done.data?["status"] == "success")
        #expect(done.data?["message"] == "Shook for 15 s at 500 RPM")
        #expect(done.data?["output"]?.stringValue?.isEmpty == false)
        #expect(done.data?["results"]?["rpm"] == 500)
        #expect(done.data?["error"] == nil)
        let list = try await T.send(simulator, "GET", shakerCommands, bearer: T.publicToken)
        #expect(list.data?.arrayValue?.count == 1)
    }

    @Test func killEndsARunningCommandInFailure() async throws {
        let simulator = T.simulator(clock: clock)
        let created = try await post(simulator, shake(#""10m""#, "1200"))
        let id = try #require(created.data?["id"]?.stringValue)
        let killed = try await T.send(simulator, "POST", "\(shakerCommands)/\(id)/kill", bearer: T.publicToken)
        #expect(killed.status == 200)
        #expect(killed.data?["status"] == "failure")
        #expect(killed.data?["error"]?.stringValue?.isEmpty == false)
        clock.advance(by: 3_600)
        let later = try await T.send(simulator, "GET", "\(shakerCommands)/\(id)", bearer: T.publicToken)
        #expect(later.data?["status"] == "failure", "a killed command stays failed")
    }

    @Test func deletingACommandRemovesIt() async throws {
        let simulator = T.simulator(clock: clock)
        let created = try await post(simulator, shake("30", "300"))
        let path = "\(shakerCommands)/\(try #require(created.data?["id"]?.stringValue))"
        let deleted = try await T.send(simulator, "DELETE", path, bearer: T.publicToken)
        #expect(deleted.status == 200)
        #expect(deleted.data?["status"] == "failure")
        #expect(try await T.send(simulator, "GET", path, bearer: T.publicToken).status == 404)
        #expect(try await T.send(simulator, "DELETE", path, bearer: T.publicToken).status == 404)
    }

    @Test func someValidCommandsFailOnTheirOwn() async throws {
        let simulator = T.simulator(clock: clock)
        let reader = "/public/v1/instruments/6458049c87f19b42eb06508f/commands"
        let body =
            #"{"action": "read_fluorescence", "values": [{"parameterId": "Excitation", "value": "485"}, "#
            + #"{"parameterId": "Emission", "value": "450"}, {"parameterId": "Gain", "value": 100}, "#
            + #"{"parameterId": "Plate Type", "value": "96-well"}]}"#
        let created = try await post(simulator, body, to: reader)
        let id = try #require(created.data?["id"]?.stringValue)
        clock.advance(by: 60)
        let done = try await T.send(simulator, "GET", "\(reader)/\(id)", bearer: T.publicToken)
        #expect(done.data?["status"] == "failure")
        #expect(done.data?["error"]?.stringValue?.contains("Emission") == true)
    }

    @Test func labMateCommandsRunThroughExecuteCommands() async throws {
        let simulator = T.simulator(clock: clock)
        let handler = "/public/v1/instruments/645804b187f19b42eb065095/commands"
        let file = #"{\"commands\": [{\"command_id\": \"ReadVersion\", \"payload\": {}}]}"#
        let body = #"{"action": "Execute Commands", "values": [{"parameterId": "cmdsfile", "value": "\#(file)"}]}"#
        let id = try #require(try await post(simulator, body, to: handler).data?["id"]?.stringValue)
        clock.advance(by: 60)
        let done = try await T.send(simulator, "GET", "\(handler)/\(id)", bearer: T.publicToken)
        #expect(done.data?["status"] == "success")
        #expect(done.data?["results"]?["responses"]?[0]?["command_id"] == "ReadVersion")
    }

    @Test(arguments: [
        ("15s", 15.0), ("2m", 120), ("1h30m", 5_400), ("1.5 min", 90), ("500ms", 0.5), ("00:01:30", 90), ("42", 42),
    ])
    func readsTimes(text: String, seconds: Double) {
        #expect(GenieQuantity.seconds(.string(text)) == seconds)
    }

    @Test(arguments: [("50uL", 50.0), ("1.5 mL", 1_500), ("250 µL", 250), ("100", 100), ("20nl", 0.02)])
    func readsVolumes(text: String, microlitres: Double) {
        #expect(GenieQuantity.microlitres(.string(text)) == microlitres)
    }
}
