// Command loadgen drives a running `lift serve` with N concurrent
// keep-alive workers for a fixed time and prints one JSON line: requests
// per second, p50/p99 latency and the error count.
//
//	go run ./bench/loadgen -url http://127.0.0.1:18089 -scenario predict -c 32 -d 10s
//
// Scenarios: healthz (GET /healthz), predict (POST /predict/ctr rotating
// clip ids demo-0001..demo-NNNN), experiment (POST .../decide then POST
// .../rewards with the returned event id and a 0/1 reward; one op is the
// pair).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the JSON line loadgen prints.
type Result struct {
	Scenario   string  `json:"scenario"`
	Workers    int     `json:"workers"`
	Seconds    float64 `json:"seconds"`
	Requests   int64   `json:"requests"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	RequestsPS float64 `json:"requests_per_s"`
	OpsPS      float64 `json:"ops_per_s"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

func main() {
	base := flag.String("url", "http://127.0.0.1:18089", "server base URL")
	scenario := flag.String("scenario", "healthz", "healthz, predict or experiment")
	workers := flag.Int("c", 32, "concurrent workers")
	dur := flag.Duration("d", 10*time.Second, "how long to send")
	clips := flag.Int("clips", 300, "predict rotates clip ids demo-0001..demo-NNNN")
	exp := flag.String("experiment", "demo-thumbnails", "experiment id for the experiment scenario")
	token := flag.String("token", "", "bearer token, if the server has one")
	flag.Parse()

	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        *workers * 2,
			MaxIdleConnsPerHost: *workers * 2,
			IdleConnTimeout:     time.Minute,
		},
	}
	g := &gen{client: client, base: *base, token: *token}
	var op func(worker, i int, lat *[]time.Duration) error
	switch *scenario {
	case "healthz":
		op = func(_, _ int, lat *[]time.Duration) error {
			_, err := g.do("GET", "/healthz", nil, lat)
			return err
		}
	case "predict":
		op = func(w, i int, lat *[]time.Duration) error {
			id := fmt.Sprintf("demo-%04d", (w*7919+i)%*clips+1)
			_, err := g.do("POST", "/predict/ctr?clip_id="+id, nil, lat)
			return err
		}
	case "experiment":
		op = func(w, i int, lat *[]time.Duration) error {
			body, err := g.do("POST", "/experiments/"+*exp+"/decide", []byte(`{"context":{}}`), lat)
			if err != nil {
				return err
			}
			var d struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(body, &d); err != nil || d.EventID == "" {
				return fmt.Errorf("decide answer without event_id: %s", body)
			}
			reward := (w + i) % 2
			_, err = g.do("POST", "/experiments/"+*exp+"/rewards",
				fmt.Appendf(nil, `{"event_id":%q,"reward":%d}`, d.EventID, reward), lat)
			return err
		}
	default:
		fmt.Fprintf(os.Stderr, "loadgen: unknown scenario %q\n", *scenario)
		os.Exit(2)
	}

	var (
		ops, errs atomic.Int64
		firstErr  atomic.Value
		wg        sync.WaitGroup
		lats      = make([][]time.Duration, *workers)
	)
	start := time.Now()
	deadline := start.Add(*dur)
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			for i := 0; time.Now().Before(deadline); i++ {
				if err := op(w, i, &lat); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ops.Add(1)
			}
			lats[w] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	all := slices.Concat(lats...)
	slices.Sort(all)
	r := Result{
		Scenario: *scenario, Workers: *workers, Seconds: elapsed,
		Requests: int64(len(all)), Ops: ops.Load(), Errors: errs.Load(),
		RequestsPS: float64(len(all)) / elapsed, OpsPS: float64(ops.Load()) / elapsed,
		P50Ms: ms(quantile(all, 0.50)), P99Ms: ms(quantile(all, 0.99)), MaxMs: ms(quantile(all, 1)),
	}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

type gen struct {
	client *http.Client
	base   string
	token  string
}

// do sends one request, appends its latency to lat, and returns the body
// of a 2xx answer; anything else is an error.
func (g *gen) do(method, path string, body []byte, lat *[]time.Duration) ([]byte, error) {
	req, err := http.NewRequest(method, g.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	t0 := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	*lat = append(*lat, time.Since(t0))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return out, nil
}

// quantile is the nearest-rank q-quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
