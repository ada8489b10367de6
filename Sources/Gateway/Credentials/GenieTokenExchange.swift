import Foundation
import MicroHTTPServer
import NIOCore

/// The real exchange: `POST {genie origin}/authn/login` with `{"jwt": public token}`, answered by `{"jwt": private}`.
public enum GenieTokenExchange {
    /// An exchange closure for `TokenManager`, reading the public token at each exchange (so rotation applies).
    public static func make(client: UpstreamClient, genie: Upstream) -> TokenManager.Exchange {
        { try await exchange(client: client, genie: genie) }
    }

    static func exchange(client: UpstreamClient, genie: Upstream) async throws -> String {
        let body = "{\"jwt\":\(JSONText.quote(genie.credential.value))}"
        let response = try await client.send(
            method: "POST",
            url: genie.origin.origin + "/authn/login",
            headers: [
                "Host": genie.origin.hostHeader, "Content-Type": "application/json", "Accept": "application/json",
            ],
            body: .bytes(ByteBuffer(string: body))
        )
        var collected = ByteBuffer()
        for try await var chunk in response.body where collected.readableBytes < 64 << 10 {
            collected.writeBuffer(&chunk)
        }
        let status = Int(response.status.code)
        if status == 401 || status == 403 {
            throw TokenExchangeError.rejected("Genie's token exchange answered \(status)")
        }
        guard status == 200 else {
            throw TokenExchangeError(.unavailable, "Genie's token exchange answered \(status)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(collected.readableBytesView)) as? [String: Any],
            let token = object["jwt"] as? String, !token.isEmpty
        else {
            throw TokenExchangeError(.unavailable, "Genie's token exchange answered without a token")
        }
        return token
    }
}
