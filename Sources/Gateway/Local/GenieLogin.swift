import Foundation
import MicroHTTPServer
import NIOCore

// `POST /genie/authn/login` is answered here and never forwarded: labgate does the real exchange itself and keeps
// the private token, so the client only needs something token-shaped to send back (and labgate drops it).
extension GatewayResponder {
    func login(_ request: HTTPServerRequest, requestID: String) async throws -> HTTPServerResponse {
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
            object["jwt"] is String
        else {
            throw GatewayError(.badRequest, #"The login body must be a JSON object with a "jwt" string."#)
        }
        let token = Self.placeholderToken(lifetime: 300)
        return .json("{\"jwt\":\(JSONText.quote(token))}", requestID: requestID)
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
