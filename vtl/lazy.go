package vtl

// $context is read a dozen times per request but rarely as a whole, so it
// is not built as a Map up front: these values answer property reads
// straight from the Go structs and turn into a *Map (asMap) only when a
// template does something else with them (calls a method, iterates,
// prints, compares or modifies them). From then on the Map is the truth.

type lazyMap interface {
	asMap() *Map
	// lazyGet is the property read $x.name: Map.get(name).
	lazyGet(name string) any
}

// unlazy turns lazy maps into their *Map; other values pass through.
func unlazy(v any) any {
	if l, ok := v.(lazyMap); ok {
		return l.asMap()
	}
	return v
}

type contextValue struct {
	c    *WebSocketContext
	m    *Map
	id   identityValue
	err  errorValue
	auth authorizerValue
}

func newContextValue(c *WebSocketContext) *contextValue {
	cv := &contextValue{c: c}
	cv.id.c = c
	cv.err.c = c
	cv.auth.a = c.Authorizer
	return cv
}

func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return NormalizeUTF8(s)
}

func epochOrNil(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func (cv *contextValue) lazyGet(name string) any {
	if cv.m != nil {
		return cv.m.Get(name)
	}
	c := cv.c
	switch name {
	case "apiId":
		return strOrNil(c.APIID)
	case "connectedAt":
		return epochOrNil(c.ConnectedAt)
	case "connectionId":
		return strOrNil(c.ConnectionID)
	case "domainName":
		return strOrNil(c.DomainName)
	case "eventType":
		return strOrNil(c.EventType)
	case "extendedRequestId":
		return strOrNil(c.ExtendedRequestID)
	case "messageDirection":
		return strOrNil(c.MessageDirection)
	case "messageId":
		return strOrNil(c.MessageID)
	case "requestId":
		return strOrNil(c.RequestID)
	case "requestTime":
		return strOrNil(c.RequestTime)
	case "requestTimeEpoch":
		return epochOrNil(c.RequestTimeEpoch)
	case "routeKey":
		return strOrNil(c.RouteKey)
	case "stage":
		return strOrNil(c.Stage)
	case "status":
		return strOrNil(c.Status)
	case "authorizer":
		if c.Authorizer == nil {
			return nil
		}
		return &cv.auth
	case "error":
		if cv.err.empty() {
			return nil
		}
		return &cv.err
	case "identity":
		return &cv.id
	}
	return nil
}

func (cv *contextValue) asMap() *Map {
	if cv.m != nil {
		return cv.m
	}
	m := NewMap()
	for _, k := range []string{"apiId", "connectedAt", "connectionId", "domainName", "eventType",
		"extendedRequestId", "messageDirection", "messageId", "requestId", "requestTime",
		"requestTimeEpoch", "routeKey", "stage", "status"} {
		if v := cv.lazyGet(k); v != nil {
			m.Put(k, v)
		}
	}
	if cv.c.Authorizer != nil {
		m.Put("authorizer", cv.auth.asMap())
	}
	if !cv.err.empty() {
		m.Put("error", cv.err.asMap())
	}
	m.Put("identity", cv.id.asMap())
	cv.m = m
	return m
}

type identityValue struct {
	c *WebSocketContext
	m *Map
}

var identityKeys = []string{"accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider",
	"cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "sourceIp", "user",
	"userAgent", "userArn"}

func (iv *identityValue) lazyGet(name string) any {
	if iv.m != nil {
		return iv.m.Get(name)
	}
	id := &iv.c.Identity
	switch name {
	case "accountId":
		return strOrNil(id.AccountID)
	case "apiKey":
		return strOrNil(id.APIKey)
	case "apiKeyId":
		return strOrNil(id.APIKeyID)
	case "caller":
		return strOrNil(id.Caller)
	case "cognitoAuthenticationProvider":
		return strOrNil(id.CognitoAuthenticationProvider)
	case "cognitoAuthenticationType":
		return strOrNil(id.CognitoAuthenticationType)
	case "cognitoIdentityId":
		return strOrNil(id.CognitoIdentityID)
	case "cognitoIdentityPoolId":
		return strOrNil(id.CognitoIdentityPoolID)
	case "sourceIp":
		return strOrNil(id.SourceIP)
	case "user":
		return strOrNil(id.User)
	case "userAgent":
		return strOrNil(id.UserAgent)
	case "userArn":
		return strOrNil(id.UserArn)
	}
	return nil
}

func (iv *identityValue) asMap() *Map {
	if iv.m == nil {
		m := NewMap()
		for _, k := range identityKeys {
			if v := iv.lazyGet(k); v != nil {
				m.Put(k, v)
			}
		}
		iv.m = m
	}
	return iv.m
}

type errorValue struct {
	c *WebSocketContext
	m *Map
}

func (ev *errorValue) empty() bool {
	e := &ev.c.Error
	return ev.m == nil && e.Message == "" && e.MessageString == "" && e.ValidationErrorString == ""
}

func (ev *errorValue) lazyGet(name string) any {
	if ev.m != nil {
		return ev.m.Get(name)
	}
	switch name {
	case "message":
		return strOrNil(ev.c.Error.Message)
	case "messageString":
		return strOrNil(ev.c.Error.MessageString)
	case "validationErrorString":
		return strOrNil(ev.c.Error.ValidationErrorString)
	}
	return nil
}

func (ev *errorValue) asMap() *Map {
	if ev.m == nil {
		m := NewMap()
		for _, k := range []string{"message", "messageString", "validationErrorString"} {
			if v := ev.lazyGet(k); v != nil {
				m.Put(k, v)
			}
		}
		ev.m = m
	}
	return ev.m
}

// authorizerValue is $context.authorizer, over the caller's map.
type authorizerValue struct {
	a map[string]any
	m *Map
}

func (av *authorizerValue) lazyGet(name string) any {
	if av.m != nil {
		return av.m.Get(name)
	}
	v, ok := av.a[name]
	if !ok {
		return nil
	}
	return fromGo(v)
}

func (av *authorizerValue) asMap() *Map {
	if av.m == nil {
		av.m = fromGo(av.a).(*Map)
	}
	return av.m
}
