import Foundation
import MicroHTTPServer
import NIOCore

// `POST /genie/authn/login` is answered here and never forwarded: labgate does the real exchange itself and keeps
// the private token, so the client only needs something token-shaped to send back (and labgate drops it).
// With client keys on, the body's `jwt` must be a client key with a Genie scope, and the answer is that same key:
// a Genie `token.txt` holding a team key then works unchanged (the script sends it back as its bearer).
extension GatewayResponder {
    /// - Returns: The answer, and the client's name when client keys are on.
    func login(_ request: HTTPServerRequest, requestID: String) async throws -> (HTTPServerResponse, String?) {
        if let declared = request.body.declaredLength, declared > loginBodyLimit {
            throw GatewayError(.bodyTooLarge, "The login body is larger than \(loginBodyLimit) bytes.")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: loginBodyLimit)
        } catch HTTPServerError.bodyTooLarge {
            throw GatewayError(.bodyTooLarge, "The login body is larger than \(loginBodyLimit) bytes.")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let jwt = object["jwt"] as? String
        else {
            throw GatewayError(.badRequest, #"The login body must be a JSON object with a "jwt" string."#)
        }
        if clients.isEnabled {
            // A token.txt read whole ends in a newline: trimmed, as labgate trims its own credential files.
            let key = jwt.trimmingSurroundingWhitespace()
            let access = clients.decideLogin(jwt: key)
            if let refusal = access.refusal { return (refusal.response(requestID: requestID), access.client) }
            return (.json("{\"jwt\":\(JSONText.quote(key))}", requestID: requestID), access.client)
        }
        let token = Self.placeholderToken(lifetime: 300)
        return (.json("{\"jwt\":\(JSONText.quote(token))}", requestID: requestID), nil)
    }

    /// An unsigned JWT (`alg: none`) with `exp` five minutes ahead: shaped like Genie's private token, carrying no
    /// secret, and worthless anywhere but here.
    static func placeholderToken(lifetime: Int) -> String {
        let now = Int(Date().timeIntervalSince1970)
        let header = #"{"alg":"none","typ":"JWT"}"#
        let payload = "{\"iss\":\"labgate\",\"sub\":\"labgate-placeholder\",\"iat\":\(now),\"exp\":\(now + lifetime)}"
        return base64URL(header) + "." + base64URL(payload) + "."
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
