import Testing

@testable import Gateway

/// `SecretValue`'s change count: what a loop's copy of the credential (`LoopRoute`) checks instead of taking the lock.
@Suite struct SecretValueTests {
    @Test func onlyADifferentValueCountsAsAChange() {
        let secret = SecretValue("lbk_first")
        #expect(secret.changeCount == 0)
        #expect(!secret.replace(with: "lbk_first"))
        #expect(secret.changeCount == 0)
        #expect(secret.replace(with: "lbk_second"))
        #expect(secret.changeCount == 1)
        #expect(secret.bearerWithChangeCount() == ("Bearer lbk_second", 1))
        #expect(secret.replace(with: "lbk_first"))
        #expect(secret.bearerWithChangeCount() == ("Bearer lbk_first", 2))
        #expect(secret.bearer == "Bearer lbk_first")
    }

    /// The bearer read with a change count is never older than that count: a reader that keeps it and rereads when
    /// the count moves misses no rotation, while another thread rotates.
    @Test func aBearerIsNeverOlderThanItsChangeCount() async {
        let secret = SecretValue("v0")
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for i in 1...2_000 { secret.replace(with: "v\(i)") }
            }
            group.addTask {
                for _ in 0..<2_000 {
                    let (bearer, change) = secret.bearerWithChangeCount()
                    #expect(bearer == "Bearer v\(change)")
                }
            }
        }
        #expect(secret.bearerWithChangeCount() == ("Bearer v2000", 2_000))
    }
}
