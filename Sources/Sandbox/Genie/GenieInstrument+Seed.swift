/// The instruments a fresh simulator has: a shaker (the vendor's `set_timed_shake` example, with its parameter ids),
/// a plate reader and a liquid handler that also runs native LabMate commands. Durations are simulated seconds.
extension GenieInstrument {
    static func seed() -> [GenieInstrument] {
        [shaker, plateReader, liquidHandler]
    }

    static let shaker = GenieInstrument(
        id: "6458048287f19b42eb065089",
        name: "Orbital Shaker 1",
        type: "shaker",
        manufacturer: "QInstruments",
        model: "BioShake 3000 elm",
        serialNumber: "BS3E-21-0417",
        actions: [
            GenieAction(
                name: "set_timed_shake",
                parameters: [
                    GenieParameter(id: "gokzgzjt", name: "Time", type: .time, min: 1, max: 86_400),
                    GenieParameter(id: "lkwkkevp", name: "RPM", type: .number, min: 0, max: 3_000),
                ]
            ) { args in
                let seconds = args.seconds("Time")
                let rpm = args.number("RPM")
                let (s, r) = (GenieParameter.format(seconds), GenieParameter.format(rpm))
                return .success(
                    after: seconds,
                    "Shook for \(s) s at \(r) RPM",
                    output: "setShakeTargetSpeed \(r)\nshakeOnWithRuntime \(s)\nshake finished, plate locked: false\n",
                    results: ["rpm": .number(rpm), "seconds": .number(seconds)]
                )
            },
            GenieAction(
                name: "set_temperature",
                parameters: [GenieParameter(id: "tmpqzhxa", name: "Temperature", type: .number, min: 4, max: 99)]
            ) { args in
                let celsius = GenieParameter.format(args.number("Temperature"))
                return .success(
                    after: 20,
                    "Temperature reached \(celsius) °C",
                    output: "setTempTarget \(celsius)\ntempOn\ntemperature stable\n",
                    results: ["targetCelsius": .number(args.number("Temperature"))]
                )
            },
            GenieAction(name: "stop_shake", parameters: []) { _ in
                .success(after: 2, "Shaker stopped", output: "shakeOff\n", results: ["stopped": true])
            },
        ]
    )

    static let plateReader = GenieInstrument(
        id: "6458049c87f19b42eb06508f",
        name: "Plate Reader 1",
        type: "plate_reader",
        manufacturer: "Agilent BioTek",
        model: "Synergy H1",
        serialNumber: "SH1-2204-1187",
        actions: [
            GenieAction(
                name: "read_absorbance",
                parameters: [
                    GenieParameter(id: "wvlnabsr", name: "Wavelength", type: .number, min: 230, max: 999),
                    GenieParameter(id: "pltypabs", name: "Plate Type", type: .string, options: plateTypes),
                    GenieParameter(id: "rdnmabsx", name: "Read Name", type: .string, min: 1, max: 64),
                ]
            ) { args in
                let wavelength = args.number("Wavelength")
                let plate = args.string("Plate Type")
                let name = args.string("Read Name")
                var generator = SeededGenerator(seed: "abs|\(name)|\(wavelength)|\(plate)")
                let wells = wellNames(plate).map { ($0, JSONValue.number(generator.reading(in: 0.04...1.2))) }
                return .success(
                    after: plate == "384-well" ? 90 : 45,
                    "Read '\(name)' at \(GenieParameter.format(wavelength)) nm (\(wells.count) wells)",
                    output: "Gen5 3.12: plate in, read started\nAbsorbance endpoint read complete\n",
                    results: [
                        "readName": .string(name), "plateType": .string(plate), "wavelengthNm": .number(wavelength),
                        "unit": "OD", "wells": .object(Dictionary(uniqueKeysWithValues: wells)),
                    ]
                )
            },
            GenieAction(
                name: "read_fluorescence",
                parameters: [
                    GenieParameter(id: "excflrwv", name: "Excitation", type: .number, min: 250, max: 700),
                    GenieParameter(id: "emsflrwv", name: "Emission", type: .number, min: 280, max: 850),
                    GenieParameter(id: "gainflrx", name: "Gain", type: .number, min: 25, max: 255),
                    GenieParameter(id: "pltypflr", name: "Plate Type", type: .string, options: plateTypes),
                ]
            ) { args in
                let (excitation, emission) = (args.number("Excitation"), args.number("Emission"))
                guard emission >= excitation + 10 else {
                    // Valid values that the optics still refuse: a command that ends in failure on its own.
                    return .failure(
                        after: 5,
                        "Emission (\(GenieParameter.format(emission)) nm) must be at least 10 nm above excitation "
                            + "(\(GenieParameter.format(excitation)) nm)",
                        output: "Gen5 3.12: monochromator check failed\n"
                    )
                }
                let plate = args.string("Plate Type")
                var generator = SeededGenerator(seed: "fl|\(excitation)|\(emission)|\(args.number("Gain"))|\(plate)")
                let wells = wellNames(plate).map {
                    ($0, JSONValue.number(generator.reading(in: 100...60_000).rounded()))
                }
                return .success(
                    after: 60,
                    "Fluorescence read complete (\(wells.count) wells)",
                    output: "Gen5 3.12: plate in, read started\nFluorescence endpoint read complete\n",
                    results: [
                        "unit": "RFU", "plateType": .string(plate),
                        "wells": .object(Dictionary(uniqueKeysWithValues: wells)),
                    ]
                )
            },
            GenieAction(name: "open_tray", parameters: []) { _ in
                .success(after: 4, "Tray open", output: "tray out\n", results: ["tray": "open"])
            },
            GenieAction(name: "close_tray", parameters: []) { _ in
                .success(after: 4, "Tray closed", output: "tray in\n", results: ["tray": "closed"])
            },
        ]
    )

    static let liquidHandler = GenieInstrument(
        id: "645804b187f19b42eb065095",
        name: "Liquid Handler 1",
        type: "liquid_handler",
        manufacturer: "Opentrons",
        model: "OT-2",
        serialNumber: "OT2R20230914",
        actions: [
            GenieAction(
                name: "transfer",
                parameters: [
                    GenieParameter(id: "srcwellx", name: "Source", type: .string, min: 2, max: 24),
                    GenieParameter(id: "dstwellx", name: "Destination", type: .string, min: 2, max: 24),
                    GenieParameter(id: "volxfrul", name: "Volume", type: .volume, min: 1, max: 1_000),
                    GenieParameter(id: "mixcycle", name: "Mix Cycles", type: .number, min: 0, max: 20),
                ]
            ) { args in
                let (source, destination) = (args.string("Source"), args.string("Destination"))
                let volume = args.microlitres("Volume")
                let mixes = args.number("Mix Cycles")
                let v = GenieParameter.format(volume)
                return .success(
                    after: 6 + 3 * mixes,
                    "Transferred \(v) uL from \(source) to \(destination)",
                    output: "pick_up_tip\naspirate \(v) \(source)\ndispense \(v) \(destination)\n"
                        + "mix \(GenieParameter.format(mixes))\ndrop_tip\n",
                    results: [
                        "source": .string(source), "destination": .string(destination), "volumeUl": .number(volume),
                        "mixCycles": .number(mixes), "tipsUsed": 1,
                    ]
                )
            },
            GenieAction(
                name: "run_protocol",
                parameters: [
                    GenieParameter(id: "protfile", name: "Protocol", type: .file),
                    GenieParameter(id: "protvars", name: "Variables", type: .json),
                    GenieParameter(id: "prottout", name: "Timeout", type: .time, min: 1, max: 7_200),
                ]
            ) { args in
                let timeout = args.seconds("Timeout")
                guard timeout >= 40 else {
                    return .failure(
                        after: timeout,
                        "Protocol did not finish within its \(GenieParameter.format(timeout)) s timeout",
                        output: "protocol started\nstep 1/12: home\nstep 2/12: pick_up_tip\ntimeout, run cancelled\n"
                    )
                }
                return .success(
                    after: 40,
                    "Protocol finished (12 steps)",
                    output: "protocol started\nstep 12/12: drop_tip\nprotocol finished\n",
                    results: ["steps": 12, "variables": args.json("Variables") ?? .null]
                )
            },
            GenieAction(
                name: "Execute Commands",
                parameters: [GenieParameter(id: "cmdsfile", name: "Commands", type: .file)]
            ) { args in
                LabMate.execute(args.json("Commands"))
            },
        ]
    )

    static let plateTypes = ["96-well", "384-well"]

    /// A1...H12 or A1...P24.
    static func wellNames(_ plate: String) -> [String] {
        let (rows, columns) = plate == "384-well" ? ("ABCDEFGHIJKLMNOP", 24) : ("ABCDEFGH", 12)
        return rows.flatMap { row in (1...columns).map { "\(row)\($0)" } }
    }
}
