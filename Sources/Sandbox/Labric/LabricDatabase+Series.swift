/// Series: the points of one parent row in a raw table, given column by column. Writing a series replaces the
/// parent's previous points in that table, so repeating a write is safe.
extension LabricDatabase {
    struct SeriesWrite: Sendable {
        var table: String
        var parent: JSONValue
        var parentColumn: String?
        var columns: [String: [JSONValue]]
    }

    mutating func apply(_ series: SeriesWrite, at index: Int, context: inout WriteContext) -> JSONValue {
        let path = "series[\(index)]"
        let name = series.table
        if let table = tables[name], !table.isRaw {
            context.problems.append(.init("\(path).table", "'\(name)' is not a raw table"))
            return .null
        }
        guard let (parentTable, parentID) = resolveParent(series, path: path, context: &context) else { return .null }
        let lengths = Set(series.columns.values.map(\.count))
        guard !series.columns.isEmpty else {
            context.problems.append(.init("\(path).columns", "A series needs at least one column"))
            return .null
        }
        if lengths.count > 1 {
            let expected = series.columns.values.first!.count
            for (column, values) in series.columns.sorted(by: { $0.key < $1.key }) where values.count != expected {
                context.problems.append(
                    .init(
                        "\(path).columns.\(column)",
                        "Every list must have the same length: expected \(expected), got \(values.count)")
                )
            }
            return .null
        }
        let count = lengths.first ?? 0
        if tables[name] == nil { createTable(name, raw: true) }
        let parentColumn =
            series.parentColumn
            ?? tables[name]!.columns.first(where: { $0.foreignTable == parentTable })?.name ?? parentTable
        guard foreignKey(parentColumn, of: name, to: parentTable, path: "\(path).parent_column", context: &context)
        else {
            return .null
        }
        let replaced = tables[name]!.rows.filter { $0.values[parentColumn]?.stringValue == parentID }.count
        update(name) { table in table.rows.removeAll { $0.values[parentColumn]?.stringValue == parentID } }
        for point in 0..<count {
            var input: [String: JSONValue] = ["order": .number(Double(point))]
            for (column, values) in series.columns { input[column] = values[point] }
            guard var values = resolve(input, table: name, path: "\(path).columns", context: &context) else { break }
            values["id"] = .string(LabricIDs.uuid())
            values[parentColumn] = .string(parentID)
            update(name) { $0.rows.append(Row(values: values, executionID: context.executionID)) }
        }
        return [
            "table": .string(name),
            "parent_id": .string(parentID),
            "points_written": .number(Double(count)),
            "points_replaced": .number(Double(replaced)),
        ]
    }

    /// The parent row: an id, an `@label` from this request, or a lookup object in the table named by
    /// `parent_column` (or the one the raw table already points at).
    private func resolveParent(_ series: SeriesWrite, path: String, context: inout WriteContext) -> (String, String)? {
        switch series.parent {
        case .string(let text) where text.hasPrefix("@"):
            guard let target = context.refs[String(text.dropFirst())] else {
                context.problems.append(
                    .init("\(path).parent", "Unknown reference '\(text)': label an earlier row with _ref"))
                return nil
            }
            return (target.table, target.id)
        case .string(let id):
            guard let found = locate(id: id) else {
                context.problems.append(.init("\(path).parent", "No row has id '\(id)'"))
                return nil
            }
            return (found.table, id)
        case .object(let lookup):
            let pointed = tables[series.table]?.columns.compactMap(\.foreignTable)
            let target =
                series.parentColumn.map { $0.hasSuffix("_id") ? String($0.dropLast(3)) : $0 }
                ?? (pointed?.count == 1 ? pointed?.first : nil)
            guard let target else {
                context.problems.append(
                    .init("\(path).parent_column", "parent_column is required to look the parent up"))
                return nil
            }
            let matches = context.before.tables[target].map { context.before.rows(of: $0, matching: lookup) } ?? []
            guard matches.count == 1 else {
                context.problems.append(
                    .init(
                        "\(path).parent",
                        "The lookup matches \(matches.count) \(target) rows; it must match exactly one"))
                return nil
            }
            return (target, matches[0].id)
        default:
            context.problems.append(.init("\(path).parent", "parent must be an id, an '@label' or a lookup object"))
            return nil
        }
    }
}
