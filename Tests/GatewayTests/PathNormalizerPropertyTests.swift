import Foundation
import PropertyBased
import Testing

@testable import Gateway

/// Picks one of the given strings.
func pick(_ values: [String]) -> Generator<String, Shrink.None<String?>> {
    Gen<String?>.element(of: values).map { $0! }
}

/// Path segments that are never dot-segments, in raw and encoded forms.
let safeSegment = pick([
    "api", "v1", "files", "a%2Fb", "%41", "x.y", "...", ".hidden", "a..", "%2e%2e%2e", "caf%C3%A9", "a%20b", "~u",
    "x;y=1", "6458048287f19b42eb065089", "",
])

/// Every way labgate knows of writing "." or "..".
let dotSegment = pick([
    ".", "..", "%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e", "%2e.", ".%2E", "%2E.", "%2e%2E", "%2E%2e", "..;x", "%2e%2e;p",
])

/// Separators some upstream may honour before a segment.
let separator = pick(["/", "\\", "%2F", "%2f", "%5C", "%5c"])

let querySuffix = pick(["", "?", "?a=1", "?x=../../etc&y=%2e%2e", "?q=%0A%00", "?a=b?c/d"])

@Suite struct PathNormalizerPropertyTests {
    @Test func anyTargetWithADotSegmentIsRefused() async {
        await propertyCheck(
            count: 500,
            input: safeSegment.array(of: 0...4), separator, dotSegment,
            zip(safeSegment.array(of: 0...3), querySuffix)
        ) { before, separator, dot, tail in
            let (after, query) = tail
            let path =
                "/" + before.joined(separator: "/") + separator + dot
                + (after.isEmpty ? "" : "/" + after.joined(separator: "/"))
            #expect(throws: GatewayError.self, "\(path + query)") { try PathNormalizer.validate(path + query) }
        }
    }

    @Test func anyTargetWithEncodedNulCrLfInThePathIsRefused() async {
        await propertyCheck(
            input: safeSegment.array(of: 0...3), pick(["%00", "%0d", "%0D", "%0a", "%0A"]), safeSegment, querySuffix
        ) { before, control, after, query in
            let target = "/" + before.joined(separator: "/") + "/x" + control + after + query
            #expect(throws: GatewayError.self, "\(target)") { try PathNormalizer.validate(target) }
        }
    }

    @Test func targetsOfSafeSegmentsAreAcceptedUnchanged() async {
        await propertyCheck(count: 300, input: safeSegment.array(of: 0...6), querySuffix) { segments, query in
            let target = "/" + segments.joined(separator: "/") + query
            let validated = try PathNormalizer.validate(target)
            #expect(Array(validated.raw.utf8) == Array(target.utf8))
        }
    }

    /// Random byte soup built from the characters that matter: whatever is accepted is kept byte for byte, and never
    /// holds a dot-segment or encoded NUL/CR/LF in its path.
    @Test func anyAcceptedTargetIsKeptByteForByte() async {
        let piece = pick([
            "a", "Z", "0", "-", "_", "~", ".", "..", "/", "\\", "%", "2", "e", "E", "f", "F", "%2e", "%2E", "%2F",
            "%5c", "%00", "%0a", "%41", "%zz", ";", "?", "=", "&", "#", " ", "é",
        ])
        await propertyCheck(count: 1000, input: piece.array(of: 0...12)) { pieces in
            let target = "/" + pieces.joined()
            guard let validated = try? PathNormalizer.validate(target) else { return }
            #expect(Array(validated.raw.utf8) == Array(target.utf8))
            let rebuilt = String(validated.path) + (validated.query.map { "?" + $0 } ?? "")
            #expect(rebuilt == target)
            #expect(!PathNormalizer.containsDotSegment(validated.path))
            let lowered = validated.path.lowercased()
            #expect(!lowered.contains("%00") && !lowered.contains("%0a") && !lowered.contains("%0d"))
        }
    }

    @Test func matchingFormIsIdempotentAndNeverDecodesSlashes() async {
        let piece = pick(["a", "/", "//", "%2F", "%2f", "%41", "%7E", "%25", "%", "%2", "b"])
        await propertyCheck(count: 500, input: piece.array(of: 0...10)) { pieces in
            let path = pieces.joined()
            let once = PathNormalizer.matchingForm(path)
            #expect(PathNormalizer.matchingForm(once) == once || path.contains("%25"))
            #expect(
                once.components(separatedBy: "%2F").count + once.components(separatedBy: "%2f").count
                    == path.components(separatedBy: "%2F").count + path.components(separatedBy: "%2f").count)
        }
    }
}
