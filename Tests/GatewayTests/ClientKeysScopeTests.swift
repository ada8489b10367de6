import Testing

@testable import Gateway

/// Scopes per upstream: genie read/write, labric read/write/admin; admin > write > read; the method decides.
struct ClientKeysScopeTests {
    @Test func parsesEveryKnownScope() {
        #expect(
            ClientScope.all.map(\.description) == [
                "genie:read", "genie:write", "labric:read", "labric:write", "labric:admin",
            ])
        for scope in ClientScope.all { #expect(ClientScope(parsing: scope.description) == scope) }
    }

    @Test(arguments: [
        "genie:admin", "labric", "labric:", ":read", "labric:READ", "Labric:read", "labric:read:x", "s3:read", "",
    ])
    func refusesUnknownScopes(text: String) {
        #expect(ClientScope(parsing: text) == nil)
    }

    @Test func readIsGetHeadAndOptionsWriteIsTheRest() {
        for method in ["GET", "HEAD", "OPTIONS"] { #expect(ClientScope.Level.required(forMethod: method) == .read) }
        for method in ["POST", "PUT", "PATCH", "DELETE", "get", "PROPFIND", "TRACE"] {
            #expect(ClientScope.Level.required(forMethod: method) == .write, "\(method)")
        }
    }

    @Test func adminImpliesWriteImpliesRead() {
        let admin = ClientScope(.labric, .admin)
        let write = ClientScope(.labric, .write)
        let read = ClientScope(.labric, .read)
        #expect(admin.grants(write) && admin.grants(read) && admin.grants(admin))
        #expect(write.grants(read) && !write.grants(admin))
        #expect(!read.grants(write))
        // Never across upstreams.
        #expect(!ClientScope(.genie, .write).grants(read))
        #expect(!admin.grants(ClientScope(.genie, .read)))
    }

    @Test func entriesSortAndDeduplicateTheirScopes() {
        let entry = ClientKeys.Entry(
            name: "n", keyHash: [], scopes: [.init(.labric, .write), .init(.genie, .read), .init(.labric, .write)])
        #expect(entry.scopes.map(\.description) == ["genie:read", "labric:write"])
        #expect(entry.allows(.init(.labric, .read)))
        #expect(!entry.allows(.init(.genie, .write)))
        #expect(entry.reaches(.genie) && entry.reaches(.labric))
    }
}
