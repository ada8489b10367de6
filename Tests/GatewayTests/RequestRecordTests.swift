import Testing

@testable import Gateway

@Suite struct RequestRecordTests {
    /// The access log names the path only: a query may carry anything, a token included.
    @Test(arguments: [
        ("/labric/api/v1/files?token=s3cret", "/labric/api/v1/files"), ("/a", "/a"), ("/a?", "/a"), ("/?x", "/"),
    ])
    func logsThePathWithoutTheQuery(target: String, path: String) {
        let record = RequestRecord(
            requestID: "r", route: "labric", method: "GET", target: target, status: 200, peer: nil, client: nil,
            started: .now, upstreamDuration: nil)
        #expect(record.path == path)
    }
}
