// Harness renders differential test cases with the reference implementation:
// Apache Velocity 1.7 with Jayway JsonPath 2.0 (json-smart provider) and
// commons-lang 2.6, wired up the way AWS documents API Gateway's mapping
// template variables ($context, $input, $util, $stageVariables).
//
// Usage: java -cp <jars>:<dir> Harness cases.jsonl results.jsonl
//
// Each input line is a JSON object {"name", "template", "context", "body",
// "stageVariables"}; each output line is {"name", "output", "error"} where
// error is null when the template rendered. All cases run in one JVM so the
// Go differential test stays fast.
//
// Assumptions (the parts AWS does not document precisely; the Go engine in
// package vtl implements the same):
//   - the body is parsed by Jayway's default provider: json-smart in
//     permissive mode with ordered maps;
//   - $input.json(path) serialises the result as the provider's toJson does
//     (json-smart's LT_COMPRESS style, which Jayway uses for maps and lists;
//     Jayway 2.0 itself throws for scalars) and $input.path(path) returns
//     the object;
//   - a path that matches nothing gives "" from both;
//   - a body that is not JSON makes both throw (json-smart's ParseException),
//     which Velocity reports as a MethodInvocationException.
import com.jayway.jsonpath.Configuration;
import com.jayway.jsonpath.JsonPath;
import com.jayway.jsonpath.PathNotFoundException;
import com.jayway.jsonpath.spi.json.JsonProvider;
import com.jayway.jsonpath.spi.json.JsonSmartJsonProvider;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.minidev.json.JSONStyle;
import net.minidev.json.JSONValue;
import net.minidev.json.parser.JSONParser;
import org.apache.commons.lang.StringEscapeUtils;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;

public class Harness {
    static final JsonProvider PROVIDER = new JsonSmartJsonProvider();
    static final Configuration CONF = Configuration.builder().jsonProvider(PROVIDER).build();

    /** Input is $input. */
    public static class Input {
        private final String body;

        public Input(String body) {
            this.body = body;
        }

        public String getBody() {
            return body;
        }

        public String json(String path) {
            Object doc = PROVIDER.parse(body);
            Object res;
            try {
                res = JsonPath.compile(path).read(doc, CONF);
            } catch (PathNotFoundException e) {
                return "";
            }
            // Jayway's toJson only takes maps and lists (it serialises them
            // with LT_COMPRESS); scalars get the same style.
            return JSONValue.toJSONString(res, JSONStyle.LT_COMPRESS);
        }

        public Object path(String path) {
            Object doc = PROVIDER.parse(body);
            try {
                return JsonPath.compile(path).read(doc, CONF);
            } catch (PathNotFoundException e) {
                return "";
            }
        }
    }

    /** Util is $util. */
    public static class Util {
        public String escapeJavaScript(String s) {
            return StringEscapeUtils.escapeJavaScript(s);
        }

        public Object parseJson(String s) {
            return PROVIDER.parse(s);
        }

        public String urlEncode(String s) throws Exception {
            return URLEncoder.encode(s, "UTF-8");
        }

        public String urlDecode(String s) throws Exception {
            return URLDecoder.decode(s, "UTF-8");
        }

        public String base64Encode(String s) {
            return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
        }

        public String base64Decode(String s) {
            return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
        }
    }

    /** ordered turns parsed case JSON into insertion-ordered maps and lists. */
    static Object ordered(Object o) {
        if (o instanceof Map) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (Object e : ((Map<?, ?>) o).entrySet()) {
                Map.Entry<?, ?> en = (Map.Entry<?, ?>) e;
                m.put((String) en.getKey(), ordered(en.getValue()));
            }
            return m;
        }
        if (o instanceof List) {
            List<Object> l = new ArrayList<>();
            for (Object e : (List<?>) o) {
                l.add(ordered(e));
            }
            return l;
        }
        return o;
    }

    /** quote writes s as a JSON string, escaping every non-ASCII UTF-16 unit. */
    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        sb.append('"');
    }

    public static void main(String[] args) throws Exception {
        VelocityEngine ve = new VelocityEngine();
        ve.setProperty("runtime.log.logsystem.class", "org.apache.velocity.runtime.log.NullLogChute");
        ve.init();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8));
                Writer out = new BufferedWriter(new OutputStreamWriter(new FileOutputStream(args[1]), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty()) {
                    continue;
                }
                // The ordered reader keeps $context keys in the case file's order.
                // A parser per line: json-smart 2.2 leaks object depth.
                JSONParser strict = new JSONParser(JSONParser.MODE_RFC4627);
                Map<?, ?> c = (Map<?, ?>) strict.parse(line, JSONValue.defaultReader.DEFAULT_ORDERED);
                String name = (String) c.get("name");
                String template = (String) c.get("template");
                String body = c.get("body") == null ? "" : (String) c.get("body");
                VelocityContext ctx = new VelocityContext();
                Object context = c.get("context");
                ctx.put("context", context == null ? new LinkedHashMap<String, Object>() : ordered(context));
                Object stage = c.get("stageVariables");
                ctx.put("stageVariables", stage == null ? new LinkedHashMap<String, Object>() : ordered(stage));
                ctx.put("input", new Input(body));
                ctx.put("util", new Util());
                StringWriter sw = new StringWriter();
                String err = null;
                try {
                    ve.evaluate(ctx, sw, name, template);
                } catch (Throwable e) {
                    err = e.getClass().getName() + ": " + e.getMessage();
                }
                StringBuilder sb = new StringBuilder();
                sb.append("{\"name\":");
                quote(sb, name);
                sb.append(",\"output\":");
                quote(sb, sw.toString());
                sb.append(",\"error\":");
                if (err == null) {
                    sb.append("null");
                } else {
                    quote(sb, err);
                }
                sb.append("}\n");
                out.write(sb.toString());
            }
        }
    }
}
