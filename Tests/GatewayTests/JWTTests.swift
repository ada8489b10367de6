import Foundation
import Testing

@testable import Gateway

/// Builds unsigned JWTs for tests.
func makeJWT(_ payload: String) -> String {
    func encode(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    return encode(#"{"alg":"none","typ":"JWT"}"#) + "." + encode(payload) + ".sig"
}

@Suite struct JWTTests {
    @Test func readsExpAndIat() {
        let token = makeJWT(#"{"sub":"x","iat":1700000000,"exp":1700000300}"#)
        #expect(JWT.claims(of: token) == JWT.Claims(exp: 1_700_000_300, iat: 1_700_000_000))
    }

    @Test func lifetimeFromExpAgainstNow() {
        let token = makeJWT(#"{"exp":1000.5}"#)
        #expect(JWT.lifetime(of: token, now: 700) == .milliseconds(300_500))
        #expect(JWT.lifetime(of: token, now: 2000) == nil)
    }

    @Test func lifetimeIsTheIssuersSpanWhenIatIsPresent() {
        let token = makeJWT(#"{"iat":1000,"exp":1300}"#)
        // Neither a local clock ahead of or behind the issuer's, nor whole-second truncation, changes the answer.
        for now in [999.7, 1000.9, 500, 5000] {
            #expect(JWT.lifetime(of: token, now: now) == .seconds(300))
        }
        #expect(JWT.lifetime(of: makeJWT(#"{"iat":1000,"exp":1000}"#), now: 900) == .seconds(100))
    }

    @Test func unreadableTokensHaveNoLifetime() {
        for token in [
            "", "opaque-token", "a.b", "a.!!!.c", makeJWT("not json"), makeJWT("[1,2]"), makeJWT(#"{"exp":"soon"}"#),
            makeJWT(#"{"sub":"x"}"#),
        ] {
            #expect(JWT.lifetime(of: token, now: 0) == nil)
        }
    }

    @Test func decodesBase64URLWithAndWithoutPadding() {
        #expect(JWT.base64URLDecode("aGk") == Array("hi".utf8))
        #expect(JWT.base64URLDecode("aGk=") == Array("hi".utf8))
        #expect(JWT.base64URLDecode("-_-_") == [0xFB, 0xFF, 0xBF])
        #expect(JWT.base64URLDecode("a b") == nil)
    }
}
