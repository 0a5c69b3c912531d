package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lift/sqlite"
)

func TestExperimentsOverHTTP(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	s := MustStartServer(t, nil, "--db", db, "--export", "")
	body := map[string]any{
		"id":          "thumbs",
		"variants":    []map[string]any{{"id": "red"}, {"id": "blue"}, {"id": "green"}},
		"reward_wait": "24h", "default_reward": 0,
	}
	if code, e := s.Do("POST", "/experiments", body); code != 201 || e["policy"].(map[string]any)["name"] != "thompson" {
		t.Fatalf("create = %d %v", code, e)
	}
	if code, _ := s.Do("POST", "/experiments", body); code != 409 {
		t.Errorf("duplicate create = %d, want 409", code)
	}
	code, d := s.Do("POST", "/experiments/thumbs/decide", map[string]any{"context": map[string]any{"hour": 9}})
	if code != 200 || d["event_id"] == "" || d["variant"] == nil || len(d["ranking"].([]any)) != 3 {
		t.Fatalf("decide = %d %v", code, d)
	}
	var psum float64
	for _, r := range d["ranking"].([]any) {
		r := r.(map[string]any)
		psum += r["probability"].(float64)
		if r["variant"] == d["variant"] && r["probability"] != d["probability"] {
			t.Errorf("logged probability %v differs from the ranking's %v", d["probability"], r["probability"])
		}
	}
	if psum < 0.999 || psum > 1.001 {
		t.Errorf("ranking probabilities sum to %v", psum)
	}
	ev := d["event_id"].(string)
	for i, tc := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"event_id": ev, "reward": 1}, 200},
		{map[string]any{"event_id": ev, "reward": 1}, 200},
		{map[string]any{"event_id": ev, "reward": 0}, 409},
		{map[string]any{"event_id": "nope", "reward": 1}, 404},
		{map[string]any{"event_id": ev, "reward": 7}, 400},
		{map[string]any{"event_id": ev}, 400},
		{map[string]any{"event_id": "a\x00b", "reward": 1}, 400}, // no decision could have this id
	} {
		if code, b := s.Do("POST", "/experiments/thumbs/rewards", tc.body); code != tc.status {
			t.Errorf("reward case %d = %d %v, want %d", i, code, b, tc.status)
		}
	}
	if code, _ := s.Do("POST", "/experiments/none/decide", map[string]any{}); code != 404 {
		t.Errorf("decide on unknown experiment = %d", code)
	}
	if code, _ := s.Do("POST", "/experiments/thumbs/decide", `{"context": {"x": "high"}}`); code != 400 {
		t.Errorf("string context = %d, want 400", code)
	}
	wide := map[string]any{}
	for i := range 300 {
		wide[fmt.Sprint("k", i)] = 1
	}
	for name, ctx := range map[string]any{
		"value near float64's maximum": map[string]any{"x": 1e308},
		"300 feature names":            wide,
		"empty feature name":           map[string]any{"": 1},
		"a name of the policy's own":   map[string]any{"@a": 1},
		"an interaction's name":        map[string]any{"x*@a": 1},
		"a name DSJSON reserves":       map[string]any{"_multi": 1},
		"a null value":                 map[string]any{"age": nil},
	} {
		if code, b := s.Do("POST", "/experiments/thumbs/decide", map[string]any{"context": ctx}); code != 400 {
			t.Errorf("decide with %s = %d %v, want 400", name, code, b)
		}
	}
	// A wrong type is named by its feature; of several bad features the
	// same one is named every time.
	if code, b := s.Do("POST", "/experiments/thumbs/decide", `{"context":{"y":"str","x":[1]}}`); code != 400 ||
		b["detail"] != `field "context.x" must be a number, got JSON array` {
		t.Errorf("decide with a string and an array feature = %d %v, want 400 naming x", code, b)
	}
	for range 5 {
		if code, b := s.Do("POST", "/experiments/thumbs/decide", `{"context":{"y":1e308,"b":-1e308,"x":1e308}}`); code != 400 ||
			!strings.Contains(b["detail"].(string), "context.b must be a finite number") {
			t.Fatalf("decide with three bad features = %d %v, want 400 naming b", code, b)
		}
	}
	if code, b := s.Do("POST", "/experiments/thumbs/decide", map[string]any{"event_id": "", "context": map[string]any{}}); code != 400 ||
		!strings.Contains(b["detail"].(string), "event_id, when given, must not be empty") {
		t.Errorf("decide with an empty event_id = %d %v, want 400", code, b)
	}
	for name, change := range map[string]map[string]any{
		"variant feature near float64's maximum": {"variants": []map[string]any{{"id": "a", "features": map[string]any{"x": 1e308}}, {"id": "b"}}},
		"reward_range of one number":             {"reward_range": []float64{0}},
		"reward_range of three numbers":          {"reward_range": []float64{0, 1, 2}},
		"empty reward_range":                     {"reward_range": []float64{}},
		"reward_range [0,0]":                     {"reward_range": []float64{0, 0}},
		"reward_wait 0s":                         {"reward_wait": "0s"},
		"reward_range near float64's maximum":    {"reward_range": []float64{-1e308, 1e308}},
		"a variant feature DSJSON reserves":      {"variants": []map[string]any{{"id": "a", "features": map[string]any{"_tag": 1}}, {"id": "b"}}},
		"a null variant feature":                 {"variants": []map[string]any{{"id": "a", "features": map[string]any{"f": nil}}, {"id": "b"}}},
		"a null policy parameter":                {"policy": map[string]any{"name": "epsilon-greedy", "params": map[string]any{"epsilon": nil}}},
		"the id ..":                              {"id": ".."},
		"the id .":                               {"id": "."},
	} {
		bad := map[string]any{"id": "bad", "variants": []map[string]any{{"id": "a"}, {"id": "b"}}}
		for k, v := range change {
			bad[k] = v
		}
		if code, b := s.Do("POST", "/experiments", bad); code != 400 {
			t.Errorf("create with %s = %d %v, want 400", name, code, b)
		}
	}
	if code, _ := s.Do("GET", "/experiments/bad", nil); code != 404 {
		t.Errorf("a refused create stored experiment %q", "bad")
	}
	// A policy parameter of the wrong type is named by its path.
	if code, b := s.Do("POST", "/experiments", map[string]any{"id": "bad", "variants": []map[string]any{{"id": "a"}, {"id": "b"}},
		"policy": map[string]any{"name": "epsilon-greedy", "params": map[string]any{"epsilon": "0.1"}}}); code != 400 ||
		b["detail"] != `field "policy.params.epsilon" must be a number, got JSON string` {
		t.Errorf("create with a string policy parameter = %d %v", code, b)
	}
	if code, d := s.Do("POST", "/experiments/thumbs/decide", map[string]any{"exclude": []string{"red", "blue"}}); code != 200 || d["variant"] != "green" {
		t.Errorf("exclude = %d %v", code, d)
	}
	for i := 0; i < 40; i++ {
		_, d := s.Do("POST", "/experiments/thumbs/decide", map[string]any{"event_id": fmt.Sprint("e", i)})
		r := 0
		if d["variant"] == "blue" {
			r = 1
		}
		s.Do("POST", "/experiments/thumbs/rewards", map[string]any{"event_id": d["event_id"], "reward": r})
	}
	code, st := s.Do("GET", "/experiments/thumbs/stats", nil)
	if code != 200 || st["best_variant"] != "blue" || len(st["variants"].([]any)) != 3 {
		t.Fatalf("stats = %d %v", code, st)
	}
	for _, v := range st["variants"].([]any) {
		v := v.(map[string]any)
		for _, k := range []string{"id", "trials", "reward_sum", "mean", "ci95", "p_best"} {
			if _, ok := v[k]; !ok {
				t.Errorf("variant stats lack %q: %v", k, v)
			}
		}
	}

	// The DSJSON log replays in lift bandit evaluate.
	resp, err := http.Get(s.URL + "/experiments/thumbs/log.dsjson")
	if err != nil {
		t.Fatal(err)
	}
	logData, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(logData), "\n"); resp.StatusCode != 200 || n != 42 {
		t.Fatalf("log.dsjson: %d with %d lines, want 42", resp.StatusCode, n)
	}
	logFile := writeFile(t, "log.dsjson", string(logData))
	code2, out, stderr := run(t, "bandit", "evaluate", "--log", logFile, "--policy", "thompson")
	var est map[string]any
	if code2 != 0 || json.Unmarshal([]byte(out), &est) != nil || est["n"] != 41.0 {
		t.Errorf("lift bandit evaluate on the export: %d %q %q", code2, out, stderr)
	}

	// A restart keeps the experiment and what it learnt.
	s.Stop()
	s = MustStartServer(t, nil, "--db", db, "--export", "")
	code, st2 := s.Do("GET", "/experiments/thumbs/stats", nil)
	if code != 200 || fmt.Sprint(st2["variants"]) != fmt.Sprint(st["variants"]) {
		t.Errorf("stats after restart differ:\n%v\n%v", st2["variants"], st["variants"])
	}
	if code, _ := s.Do("POST", "/experiments/thumbs/rewards", map[string]any{"event_id": ev, "reward": 1}); code != 200 {
		t.Errorf("repeated reward after restart = %d", code)
	}
}

// TestKill9LosesNoAcknowledgedWrite runs lift serve as a child process,
// records every decision, reward and prediction it acknowledges, kills
// it with SIGKILL mid-traffic and checks every acknowledged write is
// stored.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	cmd := liftProcess(t, "serve", "--db", db, "--addr", "127.0.0.1:0", "--export", "")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := ""
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if i := strings.Index(sc.Text(), "addr=http://"); i >= 0 {
			addr = strings.Fields(sc.Text()[i+len("addr="):])[0]
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	if addr == "" {
		t.Fatal("child server did not report its address")
	}
	send := func(method, path, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, addr+path, strings.NewReader(body))
		if err != nil {
			return 0, nil
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	post := func(path, body string) (int, map[string]any) { return send("POST", path, body) }
	if code, _ := post("/experiments", `{"id":"k","variants":[{"id":"a"},{"id":"b"}]}`); code != 201 {
		t.Fatalf("create = %d", code)
	}
	for w := 0; w < 4; w++ {
		if code, _ := send("PUT", fmt.Sprintf("/clips/kc%d", w), `{"duration":12,"composite_score":0.6}`); code != 201 {
			t.Fatalf("put clip = %d", code)
		}
	}
	type ack struct {
		event      string
		variant    string
		reward     bool
		clip       string
		prediction int64
	}
	acks := make(chan ack, 100000)
	stop := make(chan struct{})
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ev := fmt.Sprintf("w%d-%d", w, i)
				code, d := post("/experiments/k/decide", `{"event_id":"`+ev+`"}`)
				if code != 200 {
					return
				}
				acks <- ack{ev, d["variant"].(string), false, "", 0}
				if code, _ := post("/experiments/k/rewards", `{"event_id":"`+ev+`","reward":1}`); code != 200 {
					return
				}
				acks <- ack{ev, "", true, "", 0}
				clip := fmt.Sprintf("kc%d", w)
				code, p := post("/predict/ctr?clip_id="+clip, "")
				if code != 200 {
					return
				}
				acks <- ack{clip: clip, prediction: int64(p["prediction_id"].(float64))}
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(stop)
	for w := 0; w < 4; w++ {
		<-done
	}
	close(acks)

	s := MustStartServer(t, nil, "--db", db, "--export", "")
	resp, err := http.Get(s.URL + "/experiments/k/log.dsjson")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stored := map[string]string{}
	rewarded := map[string]bool{}
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			EventID string   `json:"EventId"`
			Cost    *float64 `json:"_label_cost"`
			A       []int    `json:"a"`
			C       struct {
				Multi []struct {
					Tag string `json:"_tag"`
				} `json:"_multi"`
			} `json:"c"`
		}
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		stored[line.EventID] = line.C.Multi[line.A[0]-1].Tag
		rewarded[line.EventID] = line.Cost != nil
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "lift.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	predicted := map[int64]string{}
	for w := 0; w < 4; w++ {
		ps, err := store.ClipPredictions(context.Background(), fmt.Sprintf("kc%d", w), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			predicted[p.ID] = *p.ClipID
		}
	}
	n, np := 0, 0
	for a := range acks {
		n++
		switch {
		case a.clip != "":
			np++
			if predicted[a.prediction] != a.clip {
				t.Errorf("acknowledged prediction %d of %s lost", a.prediction, a.clip)
			}
		case a.reward && !rewarded[a.event]:
			t.Errorf("acknowledged reward of %s lost", a.event)
		case !a.reward && stored[a.event] != a.variant:
			t.Errorf("acknowledged decision %s -> %s stored as %q", a.event, a.variant, stored[a.event])
		}
	}
	t.Logf("%d acknowledged writes (%d predictions), all stored", n, np)
	if n < 10 || np < 3 {
		t.Errorf("only %d writes were acknowledged before the kill: the test did not exercise anything", n)
	}
}
