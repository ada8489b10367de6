import Foundation
import MicroHTTPServer

/// Notifications to the key owner's inbox: deduplicated by `dedupe_key` for a day, capped per rolling hour.
extension LabricSimulator {
    static let dedupeWindow: TimeInterval = 86_400

    func sendNotification(_ call: Call) async throws -> HTTPServerResponse {
        var payload = LabricPayload(try await jsonBody(call))
        let title = payload.string("title", required: true)
        let dedupeKey = payload.string("dedupe_key", required: true)
        _ = payload.string("body")
        _ = payload.string("action_url")
        _ = payload.object("data")
        try payload.validate()
        guard let title, let dedupeKey else { throw LabricAPIError.badRequest("title and dedupe_key are required") }
        let now = now()
        let limit = configuration.notificationsPerHour
        let id: String? = try store.state.withLock { state in
            if state.notifications.contains(where: {
                $0.dedupeKey == dedupeKey && now.timeIntervalSince($0.sentAt) < Self.dedupeWindow
            }) {
                return nil
            }
            let recent = state.notifications.filter { now.timeIntervalSince($0.sentAt) < 3600 }
            if recent.count >= limit, let oldest = recent.map(\.sentAt).min() {
                let wait = max(1, Int((3600 - now.timeIntervalSince(oldest)).rounded(.up)))
                throw LabricAPIError(
                    429, "Notification limit reached: at most \(limit) per hour", headers: ["Retry-After": String(wait)]
                )
            }
            let notification = LabricStore.Notification(
                id: LabricIDs.uuid(), dedupeKey: dedupeKey, title: title, sentAt: now)
            state.notifications.append(notification)
            return notification.id
        }
        return ok(["id": id.labricJSON, "status": id == nil ? "deduplicated" : "delivered"])
    }
}
