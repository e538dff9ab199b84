package httpapi

import (
	"sort"
	"strings"
)

// Route is one route of the API: a method and a path pattern whose
// `{name}` segments capture parameters.
type Route struct {
	Method  string
	Pattern string
}

type route struct {
	Route
	segs []string
	fn   handlerFunc
}

type router struct {
	routes []route
}

func (r *router) add(method, pattern string, fn handlerFunc) {
	r.routes = append(r.routes, route{
		Route: Route{Method: method, Pattern: pattern},
		segs:  strings.Split(strings.Trim(pattern, "/"), "/"),
		fn:    fn,
	})
}

// match finds the route for method and path. When the path matches only
// routes of other methods it returns those methods (for 405 and Allow).
func (r *router) match(method, path string) (fn handlerFunc, pattern string, params map[string]string, allowed []string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range r.routes {
		p, ok := matchSegs(rt.segs, parts)
		if !ok {
			continue
		}
		if rt.Method == method {
			return rt.fn, rt.Pattern, p, nil
		}
		allowed = append(allowed, rt.Method)
	}
	sort.Strings(allowed)
	return nil, "", nil, allowed
}

func matchSegs(segs, parts []string) (map[string]string, bool) {
	if len(segs) != len(parts) {
		return nil, false
	}
	var params map[string]string
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if parts[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s[1:len(s)-1]] = parts[i]
			continue
		}
		if s != parts[i] {
			return nil, false
		}
	}
	return params, true
}

func (r *router) list() []Route {
	out := make([]Route, len(r.routes))
	for i, rt := range r.routes {
		out[i] = rt.Route
	}
	return out
}
