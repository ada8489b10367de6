import Foundation
import MicroHTTPServer
import Sandbox
import Testing

/// data/write with tables, refs and series; the read tool; SQL queries and the schema over what was written.
@Suite struct LabricSimulatorDataTests {
    typealias T = LabricTestSupport
    let clock = ManualClock()

    /// A sample, a measurement pointing at it, and a spectrum series of three points.
    func writeSampleData(_ simulator: LabricSimulator, extra: JSONValue = [:]) async throws -> T.Reply {
        var body: [String: JSONValue] = [
            "tables": [
                [
                    "table": "sample",
                    "rows": [["_ref": "s1", "name": "S-001", "mass_mg": 12.5], ["name": "S-002", "mass_mg": 3]],
                ],
                ["table": "measurement", "rows": [["sample": "@s1", "od600": 0.42, "well": "A1"]]],
            ],
            "series": [
                ["table": "spectrum", "parent": "@s1", "columns": ["nm": [400, 410, 420], "abs": [0.1, 0.2, 0.3]]]
            ],
        ]
        for (key, value) in extra.objectValue ?? [:] { body[key] = value }
        return try await T.send(simulator, "POST", "/api/v1/data/write", json: .object(body))
    }

    @Test func writeResolvesRefsAndSeriesUnderAnExecution() async throws {
        let simulator = T.simulator(clock: clock)
        let reply = try await writeSampleData(simulator, extra: ["return_rows": true])
        #expect(reply.status == 200)
        let json = try #require(reply.json)
        let sample = try #require(json["refs"]?["s1"]?.stringValue)
        #expect(json["job_execution_id"]?.stringValue != nil)
        #expect(json["tables"]?[0]?["created"] == 2)
        #expect(json["tables"]?[0]?["ids"]?[0]?.stringValue == sample)
        #expect(json["tables"]?[1]?["rows"]?[0]?["sample"]?.stringValue == sample)
        #expect(
            json["series"] == [
                ["table": "spectrum", "parent_id": .string(sample), "points_written": 3, "points_replaced": 0]
            ])

        // Writing the series again replaces it.
        let again = try await T.send(
            simulator, "POST", "/api/v1/data/write",
            json: [
                "series": [["table": "spectrum", "parent": .string(sample), "columns": ["nm": [500], "abs": [0.9]]]]
            ]
        )
        #expect(again.json?["series"]?[0]?["points_replaced"] == 3)
    }

    @Test func schemaDescribesWrittenTablesThenPlatformTables() async throws {
        let simulator = T.simulator(clock: clock)
        _ = try await writeSampleData(simulator)
        let schema = try #require(try await T.send(simulator, "GET", "/api/v1/tools/schema").json?.arrayValue)
        #expect(schema.map { $0["name"]?.stringValue ?? "" }.prefix(3) == ["sample", "measurement", "spectrum"])
        #expect(schema.last?["name"] == "core_user")
        #expect(schema.last?["id"] == .null)
        let measurement = try #require(schema.first { $0["name"] == "measurement" })
        let column = try #require(measurement["columns"]?.arrayValue?.first { $0["name"] == "sample" })
        #expect(column["sql_column_name"] == "sample_id")
        #expect(column["is_foreign_key"] == true)
        #expect(column["foreign_key_table_name"] == "sample")
        let mass = schema[0]["columns"]?.arrayValue?.first { $0["name"] == "mass_mg" }
        #expect(mass?["data_type"] == "float", "12.5 then 3: float")
        #expect(schema.first { $0["name"] == "spectrum" }?["semantic_category"] == "raw")
    }

    @Test func writeReportsEveryProblemAndChangesNothing() async throws {
        let simulator = T.simulator(clock: clock)
        _ = try await writeSampleData(simulator)
        let reply = try await T.send(
            simulator, "POST", "/api/v1/data/write",
            json: [
                "tables": [
                    [
                        "table": "sample",
                        "rows": [["name": "S-003"], ["name": 7], ["name": "S-004", "owner": "@nobody"]],
                    ]
                ]
            ]
        )
        #expect(reply.status == 400)
        let errors = try #require(reply.json?["errors"]?.arrayValue)
        #expect(errors.map { $0["path"]?.stringValue ?? "" } == ["tables[0].rows[1].name", "tables[0].rows[2].owner"])
        let count = try await T.send(simulator, "POST", "/api/v1/tools/query", json: ["query": "SELECT id FROM sample"])
        #expect(count.json?["data"]?.arrayValue?.count == 2, "S-003 was not written")
    }

    @Test func upsertUpdateAndDeleteMatchOnKeys() async throws {
        let simulator = T.simulator(clock: clock)
        _ = try await writeSampleData(simulator)
        let upsert = try await T.send(
            simulator, "POST", "/api/v1/data/write",
            json: [
                "tables": [
                    [
                        "table": "sample", "mode": "upsert", "key": ["name"],
                        "rows": [["name": "S-001", "mass_mg": 13.0], ["name": "S-009"]],
                    ],
                    [
                        "table": "sample", "mode": "update", "key": ["name"], "on_match": "fill_missing",
                        "rows": [["name": "S-009", "mass_mg": 1.5]],
                    ],
                ]
            ]
        )
        #expect(upsert.json?["tables"]?[0]?["created"] == 1)
        #expect(upsert.json?["tables"]?[0]?["updated"] == 1)
        #expect(upsert.json?["tables"]?[1]?["updated"] == 1)
        let blocked = try await T.send(
            simulator, "POST", "/api/v1/data/write",
            json: ["tables": [["table": "sample", "mode": "delete", "key": ["name"], "rows": [["name": "S-001"]]]]]
        )
        #expect(blocked.status == 400, "a measurement references S-001")
        let cascade = try await T.send(
            simulator, "POST", "/api/v1/data/write",
            json: [
                "tables": [
                    [
                        "table": "sample", "mode": "delete", "key": ["name"], "cascade": true,
                        "rows": [["name": "S-001"]],
                    ]
                ]
            ]
        )
        #expect(cascade.json?["tables"]?[0]?["deleted"] == 1)
        #expect(cascade.json?["tables"]?[0]?["cascade_deleted"] == ["measurement": 1, "spectrum": 3])
        let rows = try await T.send(
            simulator, "POST", "/api/v1/tools/query", json: ["query": "SELECT name, mass_mg FROM sample ORDER BY name"]
        )
        #expect(rows.json?["data"] == [["S-002", 3], ["S-009", 1.5]])
    }

    @Test func queryEvaluatesTheSelectSubset() async throws {
        let simulator = T.simulator(clock: clock)
        let written = try await writeSampleData(simulator)
        let sample = try #require(written.json?["refs"]?["s1"])
        func query(_ sql: String, _ params: JSONValue = []) async throws -> T.Reply {
            try await T.send(simulator, "POST", "/api/v1/tools/query", json: ["query": .string(sql), "params": params])
        }
        let one = try await query("SELECT name, mass_mg FROM sample WHERE name = %s", ["S-001"])
        #expect(one.json == ["columns": ["name", "mass_mg"], "data": [["S-001", 12.5]]])
        let star = try await query("select * from measurement where sample_id = %s limit 1;", [sample])
        #expect(star.json?["columns"] == ["id", "od600", "sample_id", "well"])
        let ordered = try await query("SELECT nm FROM spectrum WHERE nm >= 410 ORDER BY nm DESC LIMIT 5")
        #expect(ordered.json?["data"] == [[420], [410]])
        let literal = try await query("SELECT name FROM \"sample\" WHERE name = 'S-002' AND mass_mg = 3")
        #expect(literal.json?["data"] == [["S-002"]])
        for (sql, words) in [
            ("DELETE FROM sample", "Only SELECT"), ("SELECT * FROM nowhere", "does not exist"),
            ("SELECT nope FROM sample", "column \"nope\""), ("SELECT * FROM sample WHERE name = :name", "Named"),
            ("SELECT count(*) FROM sample", "sandbox evaluates"),
        ] {
            let refused = try await query(sql)
            #expect(refused.status == 400, "\(sql)")
            #expect(refused.detail?.contains(words) == true, "\(sql): \(refused.text)")
        }
    }

    @Test func readToolFiltersRowsAndCoreTables() async throws {
        let simulator = T.simulator(clock: clock)
        _ = try await writeSampleData(simulator)
        let single = try await T.send(
            simulator, "POST", "/api/v1/tools/read",
            json: ["target_name": "sample", "target_type": "table", "filters": ["name": "S-002"], "mode": "single"]
        )
        #expect(single.json?[0]?["mass_mg"] == 3)
        let none = try await T.send(
            simulator, "POST", "/api/v1/tools/read",
            json: ["target_name": "sample", "target_type": "table", "filters": ["name": "S-404"], "mode": "single"]
        )
        #expect(none.status == 404)
        let tables = try await T.send(
            simulator, "POST", "/api/v1/tools/read",
            json: ["target_name": "table", "target_type": "core-table", "filters": ["name": "measurement"]]
        )
        #expect(tables.json?[0]?["id"] == 2)
        let missing = try await T.send(
            simulator, "POST", "/api/v1/tools/read", json: ["target_name": "nope", "target_type": "table"])
        #expect(missing.status == 404)
    }

    @Test func dryRunWritesNothing() async throws {
        let simulator = T.simulator(clock: clock)
        let reply = try await writeSampleData(simulator, extra: ["dry_run": true])
        #expect(reply.status == 200)
        #expect(reply.json?["job_execution_id"] == .null)
        let schema = try await T.send(simulator, "GET", "/api/v1/tools/schema")
        #expect(schema.json?.arrayValue?.first?["name"] == "core_experiment")
    }
}
