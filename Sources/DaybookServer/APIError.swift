import DaybookCore
import Hummingbird
import NIOCore

/// A refused request: its HTTP status and a message that says what is wrong and what to send
/// instead. Every error the service answers is JSON `{"error": "…"}` (SPEC §7).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// Extra response headers (`WWW-Authenticate` on 401, `Allow` on 405).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    /// `{"error": "…"}` with the status, as the response.
    func response() -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(
            status: status, headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"error\": \(StrictJSON.quote(message))}\n")))
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    static func tooLarge(_ message: String) -> APIError { APIError(.contentTooLarge, message) }
    static func unsupportedMediaType(_ message: String) -> APIError { APIError(.unsupportedMediaType, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
}

/// A JSON response body (the read API and ingest answers end with a newline, like the CLI's output).
func jsonResponse(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json; charset=utf-8"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
}
