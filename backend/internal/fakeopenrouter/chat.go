package fakeopenrouter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// chatRequest holds the fields of the spec's ChatRequest the fake reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Modalities []string `json:"modalities"`
	Stream     bool     `json:"stream"`
	User       string   `json:"user"`
	Tools      []struct {
		Type     string `json:"type"`
		Function struct {
			Name       string `json:"name"`
			Parameters struct {
				Properties map[string]struct {
					Type string `json:"type"`
				} `json:"properties"`
				Required []string `json:"required"`
			} `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// toolCall is the call the fake makes when offered tools: the first
// function (or the one tool_choice names), its required string parameters
// all set to the last user message. It calls only when the last message is
// the user's (after a tool's answer, it answers in text) and tool_choice is
// not "none".
func (c chatRequest) toolCall() (name, arguments string, ok bool) {
	if len(c.Tools) == 0 || len(c.Messages) == 0 || c.Messages[len(c.Messages)-1].Role != "user" {
		return "", "", false
	}
	var choice struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	var mode string
	if json.Unmarshal(c.ToolChoice, &mode) == nil && mode == "none" {
		return "", "", false
	}
	_ = json.Unmarshal(c.ToolChoice, &choice)
	tool := c.Tools[0]
	for _, t := range c.Tools {
		if t.Function.Name == choice.Function.Name {
			tool = t
		}
	}
	args := map[string]any{}
	for _, p := range tool.Function.Parameters.Required {
		if tool.Function.Parameters.Properties[p].Type == "string" {
			args[p] = c.lastUserText()
		}
	}
	encoded, _ := json.Marshal(args)
	return tool.Function.Name, string(encoded), true
}

// lastToolText is the content of the last message when it is a tool's.
func (c chatRequest) lastToolText() (string, bool) {
	if len(c.Messages) == 0 || c.Messages[len(c.Messages)-1].Role != "tool" {
		return "", false
	}
	return contentText(c.Messages[len(c.Messages)-1].Content), true
}

// lastUserText is the text of the last user message (string content or the
// text parts of an array).
func (c chatRequest) lastUserText() string {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		if c.Messages[i].Role == "user" {
			return contentText(c.Messages[i].Content)
		}
	}
	return ""
}

func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

func (c chatRequest) promptTokens() int {
	n := 0
	for _, m := range c.Messages {
		n += countTokens(contentText(m.Content)) + 3
	}
	return n
}

// countTokens is the fake's tokenizer: one token per word.
func countTokens(s string) int { return len(strings.Fields(s)) }

func (s *Server) findModel(id string) (model, bool) {
	for _, m := range defaultModels() {
		if m.ID == id {
			return m, true
		}
	}
	return model{}, false
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	wanted := r.URL.Query().Get("output_modalities")
	if wanted == "" {
		wanted = "text"
	}
	var data []model
	for _, m := range defaultModels() {
		if wanted == "all" || slices.ContainsFunc(strings.Split(wanted, ","), func(mod string) bool {
			return slices.Contains(m.Architecture.OutputModalities, strings.TrimSpace(mod))
		}) {
			data = append(data, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": data, "total_count": len(data), "links": map[string]any{"next": nil}})
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !decodeBody(w, r, &req) {
		return
	}
	m, problem := s.checkChat(req)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	answer := fmt.Sprintf("You said: %q. This is %s, simulated by the fake OpenRouter.", req.lastUserText(), m.Name)
	if result, ok := req.lastToolText(); ok {
		answer = fmt.Sprintf("The tool answered: %q. This is %s, simulated by the fake OpenRouter.", result, m.Name)
	}
	if name, args, ok := req.toolCall(); ok {
		s.answerToolCall(w, r, req, name, args)
		return
	}
	if req.Stream {
		s.streamChat(w, r, req, answer)
		return
	}
	s.answerChat(w, req, answer)
}

// checkChat refuses what upstream refuses: no messages, unknown models and
// output modalities the model does not have.
func (s *Server) checkChat(req chatRequest) (model, string) {
	if len(req.Messages) == 0 {
		return model{}, "messages: at least one message is required"
	}
	m, ok := s.findModel(req.Model)
	if !ok {
		return model{}, req.Model + " is not a valid model ID"
	}
	for _, mod := range req.Modalities {
		if !slices.Contains(m.Architecture.OutputModalities, mod) {
			return model{}, fmt.Sprintf("model %s does not support output modality %q (it supports %s)",
				m.ID, mod, strings.Join(m.Architecture.OutputModalities, ", "))
		}
	}
	if len(req.Modalities) == 0 && !slices.Contains(m.Architecture.OutputModalities, "text") {
		return model{}, fmt.Sprintf("model %s only outputs images: set modalities to [\"image\"]", m.ID)
	}
	return m, ""
}

func (s *Server) answerChat(w http.ResponseWriter, req chatRequest, answer string) {
	message := map[string]any{"role": "assistant", "content": answer}
	completion := countTokens(answer)
	if slices.Contains(req.Modalities, "image") {
		url := "data:image/png;base64," + base64.StdEncoding.EncodeToString(s.png)
		message["images"] = []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": url}}}
		if !slices.Contains(req.Modalities, "text") {
			message["content"] = nil
		}
		completion += 1290 // what an image costs in output tokens upstream
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.nextID("gen"), "object": "chat.completion", "created": s.opts.Now().Unix(),
		"model": req.Model, "system_fingerprint": nil,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": message}},
		"usage":   usage(req.promptTokens(), completion),
	})
}

// answerToolCall answers with the assistant calling a tool, whole or
// streamed (the call's id and name first, then its arguments in two
// pieces, then finish_reason tool_calls).
func (s *Server) answerToolCall(w http.ResponseWriter, r *http.Request, req chatRequest, name, args string) {
	id, callID, created := s.nextID("gen"), s.nextID("call"), s.opts.Now().Unix()
	completion := countTokens(name) + countTokens(args) + 5
	if !req.Stream {
		message := map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"id": callID, "type": "function", "function": map[string]any{"name": name, "arguments": args}}}}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model, "system_fingerprint": nil,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls", "message": message}},
			"usage":   usage(req.promptTokens(), completion),
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	half := len(args) / 2
	events := []any{
		chunk(map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"index": 0, "id": callID,
			"type": "function", "function": map[string]any{"name": name, "arguments": ""}}}}, nil),
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": args[:half]}}}}, nil),
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": args[half:]}}}}, nil),
		chunk(map[string]any{}, "tool_calls"),
		map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": usage(req.promptTokens(), completion)},
	}
	for _, event := range events {
		if !s.sendEvent(w, r, event) {
			return
		}
	}
	s.send(w, r, []byte("data: [DONE]\n\n"))
}

// usage is the spec's ChatUsage with a deterministic cost.
func usage(prompt, completion int) map[string]any {
	return map[string]any{"prompt_tokens": prompt, "completion_tokens": completion,
		"total_tokens": prompt + completion, "cost": float64(prompt+completion) * 0.000001, "is_byok": false}
}

// streamChat answers with SSE: a processing comment, a role chunk, one chunk
// per word (ChunkDelay apart), a finish chunk, a usage chunk and [DONE].
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, req chatRequest, answer string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	id, created := s.nextID("gen"), s.opts.Now().Unix()
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	events := []any{chunk(map[string]any{"role": "assistant", "content": ""}, nil)}
	for i, word := range strings.Fields(answer) {
		if i > 0 {
			word = " " + word
		}
		events = append(events, chunk(map[string]any{"content": word}, nil))
	}
	events = append(events, chunk(map[string]any{}, "stop"))
	final := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
		"choices": []any{}, "usage": usage(req.promptTokens(), countTokens(answer))}
	events = append(events, final)

	midStreamError := failureOf(r.Context()).Mode == FailMidStream
	if !s.send(w, r, []byte(": OPENROUTER PROCESSING\n\n")) {
		return
	}
	for i, event := range events {
		if midStreamError && i == 3 {
			errChunk := chunk(map[string]any{"content": ""}, "error")
			errChunk["error"] = map[string]any{"code": http.StatusBadGateway, "message": "Provider disconnected",
				"metadata": map[string]any{"error_type": "provider_unavailable"}}
			s.sendEvent(w, r, errChunk)
			return
		}
		if i > 0 && !s.waitOrGone(r.Context(), s.opts.ChunkDelay) {
			s.markDisconnected(r)
			return
		}
		if !s.sendEvent(w, r, event) {
			return
		}
	}
	s.send(w, r, []byte("data: [DONE]\n\n"))
}

func (s *Server) sendEvent(w http.ResponseWriter, r *http.Request, event any) bool {
	data, _ := json.Marshal(event)
	return s.send(w, r, append(append([]byte("data: "), data...), '\n', '\n'))
}

// send writes and flushes; false (and a disconnect noted) when the client
// is gone.
func (s *Server) send(w http.ResponseWriter, r *http.Request, p []byte) bool {
	if _, err := w.Write(p); err != nil || r.Context().Err() != nil {
		s.markDisconnected(r)
		return false
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		s.markDisconnected(r)
		return false
	}
	return true
}

// nextID returns ids like gen-1732560000-000001 (unique per server).
func (s *Server) nextID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s-%d-%06d", prefix, s.opts.Now().Unix(), s.seq)
}
