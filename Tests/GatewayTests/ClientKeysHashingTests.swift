import Testing

@testable import Gateway

/// SHA-256 against known vectors, constant-time comparison, key generation and matching.
struct ClientKeysHashingTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        // Lengths around the padding boundaries (55/56 bytes: one or two blocks; 63/64: a full block).
        (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (String(repeating: "a", count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (String(repeating: "a", count: 63), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (String(repeating: "a", count: 1000), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func sha256MatchesKnownDigests(message: String, digest: String) {
        #expect(SHA256.hexDigest(message) == digest)
    }

    @Test func sha256HashesArbitraryBytes() {
        let bytes = (0..<3).flatMap { _ in (0...255).map(UInt8.init) }
        #expect(SHA256.hex(SHA256.hash(bytes)) == "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363")
    }

    @Test func constantTimeEqualityComparesEveryByte() {
        let a: [UInt8] = Array(repeating: 7, count: 32)
        var b = a
        #expect(ClientKeys.constantTimeEqual(a, b))
        b[31] ^= 1
        #expect(!ClientKeys.constantTimeEqual(a, b))
        b = a
        b[0] ^= 0x80
        #expect(!ClientKeys.constantTimeEqual(a, b))
        #expect(!ClientKeys.constantTimeEqual(a, Array(a.dropLast())))
        #expect(ClientKeys.constantTimeEqual([], []))
    }

    @Test func base64URLFollowsRFC4648() {
        let vectors = [
            "": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy",
        ]
        for (input, output) in vectors { #expect(ClientKeys.base64URL(Array(input.utf8)) == output) }
        #expect(ClientKeys.base64URL([0xfb, 0xff, 0xfe]) == "-__-")
    }

    @Test func generatedKeysCarry256RandomBits() {
        let keys = (0..<200).map { _ in ClientKeys.generateKey() }
        #expect(Set(keys).count == keys.count)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for key in keys {
            #expect(key.hasPrefix("lgk_"))
            #expect(key.count == 4 + 43)
            #expect(key.dropFirst(4).allSatisfy { alphabet.contains($0) })
        }
    }

    @Test func matchesOnlyTheExactKey() throws {
        let alice = ClientKeys.generateKey()
        let bob = ClientKeys.generateKey()
        let keys = try ClientKeys([
            .init(name: "alice", keyHash: ClientKeys.hash(alice), scopes: [.init(.labric, .read)]),
            .init(name: "bob", keyHash: ClientKeys.hash(bob), scopes: [.init(.genie, .write)]),
        ])
        #expect(keys.match(alice)?.name == "alice")
        #expect(keys.match(bob)?.name == "bob")
        #expect(keys.match(alice + " ") == nil)
        #expect(keys.match(String(alice.dropLast())) == nil)
        #expect(keys.match("") == nil)
        #expect(keys.match(String(repeating: "x", count: 10_000)) == nil)
        #expect(ClientKeys.empty.match(alice) == nil)
    }

    @Test func refusesDuplicateNamesAndKeys() {
        let hash = ClientKeys.hash("lgk_one")
        #expect(throws: ClientKeysError.self) {
            try ClientKeys([
                .init(name: "a", keyHash: hash, scopes: [.init(.labric, .read)]),
                .init(name: "b", keyHash: hash, scopes: [.init(.labric, .read)]),
            ])
        }
        #expect(throws: ClientKeysError.self) {
            try ClientKeys([
                .init(name: "a", keyHash: hash, scopes: [.init(.labric, .read)]),
                .init(name: "a", keyHash: ClientKeys.hash("lgk_two"), scopes: [.init(.labric, .read)]),
            ])
        }
    }

    @Test func namesAreShortAndPlain() {
        #expect(ClientKeys.problem(withName: "alice") == nil)
        #expect(ClientKeys.problem(withName: "ci-robot_2.lab@team") == nil)
        for bad in ["", "a b", "evil\nline", "x=y", String(repeating: "n", count: 65), "é"] {
            #expect(ClientKeys.problem(withName: bad) != nil, "\(bad)")
        }
    }
}
