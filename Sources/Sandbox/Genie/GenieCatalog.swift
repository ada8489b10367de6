/// The labware catalog that `GET /catalog/library` answers as `{"data": [...]}`: common plates, reservoirs, tip
/// racks and tube racks with their SBS footprint and well geometry (millimetres, microlitres).
enum GenieCatalog {
    static let library: JSONValue = .array(items.map(\.json))

    private struct Labware {
        var id: String
        var name: String
        var category: String
        var manufacturer: String
        var partNumber: String
        var rows: Int
        var columns: Int
        var volumeUl: Double
        var heightMm: Double
        var depthMm: Double
        var shape: String
        var bottom: String
        var diameterMm: Double

        var json: JSONValue {
            [
                "id": .string(id),
                "name": .string(name),
                "category": .string(category),
                "manufacturer": .string(manufacturer),
                "partNumber": .string(partNumber),
                "format": [
                    "rows": .number(Double(rows)), "columns": .number(Double(columns)),
                    "wells": .number(Double(rows * columns)),
                ],
                "dimensionsMm": ["x": 127.76, "y": 85.48, "z": .number(heightMm)],
                "well": [
                    "maxVolumeUl": .number(volumeUl), "depthMm": .number(depthMm), "shape": .string(shape),
                    "bottom": .string(bottom), (shape == "circular" ? "diameterMm" : "widthMm"): .number(diameterMm),
                ],
                "sbsCompliant": true,
            ]
        }
    }

    private static let items: [Labware] = [
        Labware(
            id: "corning_96_wellplate_360ul_flat", name: "Corning 96 Well Plate 360 µL Flat", category: "wellPlate",
            manufacturer: "Corning", partNumber: "3650", rows: 8, columns: 12, volumeUl: 360, heightMm: 14.22,
            depthMm: 10.67, shape: "circular", bottom: "flat", diameterMm: 6.86),
        Labware(
            id: "corning_384_wellplate_112ul_flat", name: "Corning 384 Well Plate 112 µL Flat", category: "wellPlate",
            manufacturer: "Corning", partNumber: "3640", rows: 16, columns: 24, volumeUl: 112, heightMm: 14.22,
            depthMm: 11.43, shape: "rectangular", bottom: "flat", diameterMm: 3.63),
        Labware(
            id: "biorad_96_wellplate_200ul_pcr", name: "Bio-Rad 96 Well Plate 200 µL PCR", category: "wellPlate",
            manufacturer: "Bio-Rad", partNumber: "HSP9601", rows: 8, columns: 12, volumeUl: 200, heightMm: 16.06,
            depthMm: 14.81, shape: "circular", bottom: "v", diameterMm: 5.46),
        Labware(
            id: "nest_96_wellplate_2ml_deep", name: "NEST 96 Deep Well Plate 2 mL", category: "wellPlate",
            manufacturer: "NEST", partNumber: "503001", rows: 8, columns: 12, volumeUl: 2000, heightMm: 41,
            depthMm: 38, shape: "rectangular", bottom: "v", diameterMm: 8.2),
        Labware(
            id: "greiner_96_wellplate_black_flat", name: "Greiner 96 Well Plate Black µClear", category: "wellPlate",
            manufacturer: "Greiner Bio-One", partNumber: "655090", rows: 8, columns: 12, volumeUl: 340,
            heightMm: 14.4, depthMm: 10.9, shape: "circular", bottom: "flat", diameterMm: 6.96),
        Labware(
            id: "nest_12_reservoir_15ml", name: "NEST 12 Well Reservoir 15 mL", category: "reservoir",
            manufacturer: "NEST", partNumber: "360102", rows: 1, columns: 12, volumeUl: 15000, heightMm: 31.4,
            depthMm: 26.85, shape: "rectangular", bottom: "v", diameterMm: 8.2),
        Labware(
            id: "nest_1_reservoir_195ml", name: "NEST 1 Well Reservoir 195 mL", category: "reservoir",
            manufacturer: "NEST", partNumber: "360103", rows: 1, columns: 1, volumeUl: 195_000, heightMm: 31.4,
            depthMm: 25, shape: "rectangular", bottom: "flat", diameterMm: 106.8),
        Labware(
            id: "opentrons_96_tiprack_300ul", name: "Opentrons 96 Tip Rack 300 µL", category: "tipRack",
            manufacturer: "Opentrons", partNumber: "999-00002", rows: 8, columns: 12, volumeUl: 300, heightMm: 64.49,
            depthMm: 59.3, shape: "circular", bottom: "flat", diameterMm: 5.23),
        Labware(
            id: "opentrons_96_filtertiprack_20ul", name: "Opentrons 96 Filter Tip Rack 20 µL", category: "tipRack",
            manufacturer: "Opentrons", partNumber: "999-00081", rows: 8, columns: 12, volumeUl: 20, heightMm: 64.69,
            depthMm: 39.2, shape: "circular", bottom: "flat", diameterMm: 3.27),
        Labware(
            id: "opentrons_24_tuberack_eppendorf_1.5ml_safelock_snapcap",
            name: "Opentrons 24 Tube Rack with Eppendorf 1.5 mL Safe-Lock Snapcap", category: "tubeRack",
            manufacturer: "Opentrons", partNumber: "999-00079", rows: 4, columns: 6, volumeUl: 1500, heightMm: 79.85,
            depthMm: 37.9, shape: "circular", bottom: "v", diameterMm: 8.69),
        Labware(
            id: "opentrons_15_tuberack_falcon_15ml_conical", name: "Opentrons 15 Tube Rack with Falcon 15 mL Conical",
            category: "tubeRack", manufacturer: "Opentrons", partNumber: "999-00079", rows: 3, columns: 5,
            volumeUl: 15000, heightMm: 124.35, depthMm: 117.98, shape: "circular", bottom: "v", diameterMm: 14.9),
    ]
}
