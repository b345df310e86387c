// Package vtl renders API Gateway mapping templates: Apache Velocity 1.7
// templates with the variables API Gateway provides to WebSocket APIs
// ($context, $input, $util, $stageVariables).
//
// # Why our own engine
//
// No Go library renders API Gateway mapping templates. Generic Velocity
// ports for Go implement the language loosely, but what a mapping template
// produces depends on Velocity 1.7's exact behaviour: its whitespace
// gobbling around directive lines, its escape rules for defined and
// undefined references, undefined references rendering as written, Java
// String methods with Java regular expressions, and json-smart's permissive
// JSON parsing behind $input.path. A template that renders valid JSON in a
// test must render the same bytes in API Gateway, so this package emulates
// Velocity 1.7's JavaCC lexer and parser token for token (see lexer.go) and
// its runtime node by node, and is checked byte for byte against the real
// Velocity 1.7 jar (diff_test.go renders testdata/corpus with both).
//
// # Use
//
//	t, err := vtl.Parse("message.vtl", src) // once; *Template is immutable
//	err = t.Render(w, &vtl.APIGatewayData{Context: ctx, Body: frame})
//
// Parse errors are *ParseError, rendering errors *RenderError; both carry
// line and column, and neither Parse nor Render panics on any input (a bug
// would surface as an error wrapping ErrInternal). Rendering the project's
// message template for a 1 KiB frame takes a few microseconds.
//
// Directives: #set, #if/#elseif/#else/#end, #foreach (with $foreach and
// $velocityCount), #break, #stop, their #{...} forms, ## and #* *#
// comments and #[[ ]]# text blocks; \$ and \# escapes. Unknown #words
// render as written, as in Velocity.
//
// Text: API Gateway frames are UTF-8 text. Input that is not valid UTF-8
// (a body, a context string) is read as Java would decode it
// (NormalizeUTF8: malformed sequences become U+FFFD). $context.authorizer
// lists its keys in sorted order, a Go map having none.
//
// # API Gateway specifics
//
//   - $input.body is the frame; $input.json(path) and $input.path(path)
//     evaluate JSONPath with Jayway semantics over the body parsed as
//     json-smart's permissive mode parses it (a=b&c=d is the string
//     "a=b&c=d"). $input.json serialises the result like Jayway's provider
//     (json-smart LT_COMPRESS). A path that matches nothing gives "" from
//     both (an assumption: AWS does not document it).
//   - A body json-smart cannot parse (such as {"a":) makes $input.json and
//     $input.path fail with net.minidev.json.parser.ParseException; API
//     Gateway then answers the client with an error, so Render returns an
//     error (a *RenderError wrapping *JSONParseError) and writes nothing.
//   - $util.escapeJavaScript is commons-lang 2.6's, byte for byte;
//     urlEncode/urlDecode are java.net.URLEncoder/URLDecoder with UTF-8;
//     base64Encode/base64Decode work on UTF-8 bytes; parseJson uses the
//     same permissive parser as $input.
//   - Undefined references render as written ($foo, ${foo}); quiet ones
//     ($!foo) render nothing; #set with a null right side leaves the left
//     side unchanged (directive.set.null.allowed=false).
//
// # Methods
//
// Only these Java methods exist; any other method evaluates to null and the
// reference renders as written, as Velocity renders a method that does not
// exist:
//
//   - String: length, isEmpty, charAt, substring, indexOf, lastIndexOf,
//     contains, startsWith, endsWith, equals, equalsIgnoreCase, compareTo,
//     concat, replace, replaceAll, replaceFirst, split, matches, trim,
//     toLowerCase, toUpperCase, hashCode, toString; property empty.
//   - List (and split's arrays): size, get, isEmpty, contains, indexOf,
//     add, set, clear, toString, equals; $list[i] with negative i.
//   - Map: get, containsKey, containsValue, keySet, values, size, isEmpty,
//     put, remove, clear, toString, equals; $map.key, $map["key"].
//   - numbers: intValue, longValue, doubleValue, toString, equals.
//   - $foreach: index, count, hasNext, first, last, parent, topmost (as
//     properties and getters); $velocityCount and $velocityHasNext.
//
// Java regular expressions (replaceAll, replaceFirst, split, matches) are
// translated to RE2; what RE2 cannot do the Java way is an error wrapping
// ErrUnsupportedRegex (see regex.go).
//
// Deliberate differences from Velocity 1.7 (unsupported directives such as
// #macro and #parse, Java regex features RE2 lacks, identity hash codes)
// are listed in DIFFERENCES.md.
package vtl
