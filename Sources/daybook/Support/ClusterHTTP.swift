import Dispatch
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// GETs of cluster instances' JSON (`daybook invoices --cluster`, `daybook cluster status`).
enum ClusterHTTP {
    /// The JSON array `url` answers (a 307 to the partition's owner is followed), each row an object.
    static func rows(_ url: String) throws -> [[String: Any]] {
        guard let target = URL(string: url) else { throw ClusterReadError(message: "not a URL: \(url)") }
        let result = Mutex<Result<(Data, Int), any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: target) { data, response, error in
            result.withLock {
                if let error {
                    $0 = .failure(error)
                } else {
                    $0 = .success((data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
                }
            }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + .seconds(30)) == .success, let outcome = result.withLock({ $0 }) else {
            throw ClusterReadError(message: "\(url) did not answer within 30 s")
        }
        let data: Data, status: Int
        do {
            (data, status) = try outcome.get()
        } catch {
            throw ClusterReadError(message: "\(url): \(error.localizedDescription); is the instance running?")
        }
        guard status == 200 else {
            throw ClusterReadError(
                message: "\(url) answered \(status): \(String(decoding: data.prefix(300), as: UTF8.self)); retry")
        }
        guard let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw ClusterReadError(message: "\(url) did not answer a JSON array")
        }
        return rows
    }
}

/// A cluster read that could not be completed (an instance away, a partition without owner): exit 1.
struct ClusterReadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
