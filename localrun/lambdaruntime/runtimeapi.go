package lambdaruntime

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Runtime API headers and trailers, as aws-lambda-go names them.
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS  = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody  = "Lambda-Runtime-Function-Error-Body"
)

// routes serves the Runtime API for one instance.
func (inst *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", inst.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", inst.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", inst.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", inst.handleInitError)
	return mux
}

// handleNext blocks until the pool hands this instance an event. Calling it
// completes the previous invocation and, the first time, the init phase.
func (inst *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	inst.mu.Lock()
	inst.ready = true
	inst.current = nil
	inst.mu.Unlock()
	select {
	case inst.polled <- struct{}{}:
	default:
	}

	select {
	case inv := <-inst.next:
		inst.mu.Lock()
		inst.current = inv
		inst.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set(headerRequestID, inv.id)
		h.Set(headerDeadlineMS, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(headerFunctionARN, inst.pool.arn)
		h.Set(headerTraceID, inv.traceID)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
		// The runtime went away, or the server is closing. No 500 to a
		// runtime being stopped: it would only log a fatal error.
	}
}

// handleResponse takes the function's successful answer.
func (inst *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv, ok := inst.claim(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, inv)
	if !ok {
		return
	}
	// aws-lambda-go reports a response reader that failed midway in trailers.
	if typ := r.Trailer.Get(headerErrorType); typ != "" {
		doc, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody))
		if err != nil {
			doc = nil
		}
		inv.result <- Result{Error: parseErrorDocument(doc, typ)}
	} else {
		inv.result <- Result{Payload: body}
	}
	accepted(w)
}

// handleError takes the function's error document.
func (inst *instance) handleError(w http.ResponseWriter, r *http.Request) {
	inv, ok := inst.claim(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, inv)
	if !ok {
		return
	}
	inv.result <- Result{Error: parseErrorDocument(body, r.Header.Get(headerErrorType))}
	accepted(w)
}

// handleInitError records why the runtime could not initialize; the pool
// then discards the instance, as Lambda does.
func (inst *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResponseSize))
	if err != nil {
		tooLargeOrBad(w, err)
		return
	}
	inst.mu.Lock()
	if inst.ready || inst.initErr != nil {
		inst.mu.Unlock()
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "State transition from Ready to InitError failed for runtime.")
		return
	}
	inst.initErr = parseErrorDocument(body, r.Header.Get(headerErrorType))
	inst.mu.Unlock()
	close(inst.initFailed)
	accepted(w)
}

// claim returns the invocation the path's request ID names, if it is the
// one this instance is running and still unanswered; else it answers 400.
// Claiming makes a second answer to the same invocation a 400 too.
func (inst *instance) claim(w http.ResponseWriter, r *http.Request) (*invocation, bool) {
	id := r.PathValue("id")
	inst.mu.Lock()
	inv := inst.current
	if inv == nil || inv.id != id {
		inst.mu.Unlock()
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("Invalid request ID: %q", id))
		return nil, false
	}
	inst.current = nil
	inst.mu.Unlock()
	return inv, true
}

// readBody reads what the runtime posts, up to Lambda's limit. Past the
// limit the invocation fails as it does on Lambda, and the runtime gets 413.
func readBody(w http.ResponseWriter, r *http.Request, inv *invocation) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResponseSize))
	if err == nil {
		return body, true
	}
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		inv.result <- Result{Error: &FunctionError{
			Type:    ErrorTypeResponseTooLarge,
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponseSize),
		}}
	}
	// Otherwise the runtime went away mid-request: the process's exit or the
	// timeout settles the invocation.
	tooLargeOrBad(w, err)
	return nil, false
}

func tooLargeOrBad(w http.ResponseWriter, err error) {
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", maxResponseSize))
		return
	}
	writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "Could not read the request body: "+err.Error())
}

// parseErrorDocument reads a Runtime API error document
// ({"errorType": ..., "errorMessage": ...}). A body that is not one becomes
// the message; the type then comes from the Lambda-Runtime-Function-Error-Type
// header, else Runtime.Unknown.
func parseErrorDocument(body []byte, headerType string) *FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil || (fe.Type == "" && fe.Message == "") {
		fe = FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	if fe.Type == "" {
		fe.Type = "Runtime.Unknown"
	}
	return &fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// writeAPIError answers in the Runtime API's error shape.
func writeAPIError(w http.ResponseWriter, status int, errorType, message string) {
	body, _ := json.Marshal(FunctionError{Type: errorType, Message: message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
