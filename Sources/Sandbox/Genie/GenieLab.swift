import Foundation
import Synchronization

/// The simulated lab: instruments and their commands. Every read settles the commands whose time is up first.
final class GenieLab: Sendable {
    private struct State: Sendable {
        var instruments: [GenieInstrument]
        /// Commands per instrument id, oldest first.
        var commands: [String: [GenieCommand]] = [:]

        mutating func settle(_ instrumentId: String, at now: Date) {
            guard var list = commands[instrumentId] else { return }
            for index in list.indices { list[index].settle(at: now) }
            commands[instrumentId] = list
        }

        func instrument(_ id: String) throws(GenieError) -> GenieInstrument {
            guard let instrument = instruments.first(where: { $0.id == id }) else {
                throw .notFound("no instrument '\(id)'")
            }
            return instrument
        }

        func commandIndex(_ instrumentId: String, _ commandId: String) throws(GenieError) -> Int {
            _ = try instrument(instrumentId)
            guard let index = commands[instrumentId]?.firstIndex(where: { $0.id == commandId }) else {
                throw .notFound("no command '\(commandId)' on instrument '\(instrumentId)'")
            }
            return index
        }

        func json(_ instrument: GenieInstrument) -> JSONValue {
            instrument.json(busy: commands[instrument.id]?.contains { $0.isRunning } ?? false)
        }
    }

    private let seed: [GenieInstrument]
    private let state: Mutex<State>

    init(instruments: [GenieInstrument] = GenieInstrument.seed()) {
        seed = instruments
        state = Mutex(State(instruments: instruments))
    }

    /// Back to the seeded instruments, without commands.
    func reset() {
        state.withLock { $0 = State(instruments: seed) }
    }

    func instrumentList(at now: Date) -> JSONValue {
        state.withLock { state in
            for instrument in state.instruments { state.settle(instrument.id, at: now) }
            return .array(state.instruments.map { state.json($0) })
        }
    }

    func instrumentJSON(_ id: String, at now: Date) throws(GenieError) -> JSONValue {
        try state.withLock { state throws(GenieError) in
            state.settle(id, at: now)
            return state.json(try state.instrument(id))
        }
    }

    func instrument(_ id: String) throws(GenieError) -> GenieInstrument {
        try state.withLock { state throws(GenieError) in try state.instrument(id) }
    }

    /// Removes the instrument and its commands; true when it existed (the API succeeds either way).
    @discardableResult
    func deleteInstrument(_ id: String) -> Bool {
        state.withLock { state in
            state.commands[id] = nil
            let before = state.instruments.count
            state.instruments.removeAll { $0.id == id }
            return state.instruments.count < before
        }
    }

    func add(_ command: GenieCommand) throws(GenieError) {
        try state.withLock { state throws(GenieError) in
            _ = try state.instrument(command.instrumentId)
            state.commands[command.instrumentId, default: []].append(command)
        }
    }

    func commands(of instrumentId: String, at now: Date) throws(GenieError) -> [GenieCommand] {
        try state.withLock { state throws(GenieError) in
            _ = try state.instrument(instrumentId)
            state.settle(instrumentId, at: now)
            return state.commands[instrumentId] ?? []
        }
    }

    func command(_ commandId: String, of instrumentId: String, at now: Date) throws(GenieError) -> GenieCommand {
        try state.withLock { state throws(GenieError) in
            let index = try state.commandIndex(instrumentId, commandId)
            state.commands[instrumentId]![index].settle(at: now)
            return state.commands[instrumentId]![index]
        }
    }

    /// Aborts the command if it is running; answers it as it is afterwards.
    func kill(_ commandId: String, of instrumentId: String, at now: Date) throws(GenieError) -> GenieCommand {
        try state.withLock { state throws(GenieError) in
            let index = try state.commandIndex(instrumentId, commandId)
            state.commands[instrumentId]![index].kill(at: now, reason: "Command killed by user")
            return state.commands[instrumentId]![index]
        }
    }

    /// Aborts and removes the command; answers its last state.
    func deleteCommand(_ commandId: String, of instrumentId: String, at now: Date) throws(GenieError) -> GenieCommand {
        try state.withLock { state throws(GenieError) in
            let index = try state.commandIndex(instrumentId, commandId)
            var command = state.commands[instrumentId]!.remove(at: index)
            command.kill(at: now, reason: "Command deleted while running")
            return command
        }
    }
}
