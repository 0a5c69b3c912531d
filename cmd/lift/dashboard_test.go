package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium package's browser.
const chromiumPath = "/usr/bin/chromium"

// mustChromium returns the browser to drive, skipping the test when it is
// not installed, except under CI=true where that is a failure.
func mustChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (scripts/test-deps.sh installs Debian's chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing; install Debian's chromium package (scripts/test-deps.sh does as root)", chromiumPath)
	}
	return chromiumPath
}

// browserErrors collects what the page reports as errors: uncaught
// exceptions, console.error calls and error log entries.
type browserErrors struct {
	mu   sync.Mutex
	errs []string
}

func (b *browserErrors) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

func (b *browserErrors) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.errs
	b.errs = nil
	return out
}

// TestDashboardInBrowser serves the demo with a token, trains two models,
// sends traffic through the demo experiment, then drives headless
// Chromium through every dashboard page: the token is asked for once,
// every chart draws data, nothing logs an error, and "activate" rolls the
// registry back to the other version.
func TestDashboardInBrowser(t *testing.T) {
	chromium := mustChromium(t)
	if testing.Short() {
		t.Skip("starts a browser")
	}
	const token = "dashboard-secret"
	dir := t.TempDir()
	s := MustStartServer(t, map[string]string{"LIFT_API_TOKEN": token},
		"--db", "sqlite:"+filepath.Join(dir, "lift.db"), "--demo", "--export", filepath.Join(dir, "model.json"))
	auth := []string{"Authorization", "Bearer " + token}

	// The static shell is public; the data is not.
	if code, _ := s.Do("GET", "/models", nil); code != http.StatusUnauthorized {
		t.Fatalf("GET /models without the token = %d, want 401", code)
	}
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s, want 200 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	for i := range 2 {
		code, sum := s.Do("POST", "/train/ctr-model", nil, auth...)
		if code != 200 || sum["success"] != true {
			t.Fatalf("training %d = %d %v", i+1, code, sum)
		}
	}
	for i := range 30 {
		if code, body := s.Do("POST", fmt.Sprintf("/predict/ctr?clip_id=demo-%04d", 1+i%10), nil, auth...); code != 200 {
			t.Fatalf("predict = %d %v", code, body)
		}
	}
	for i := range 200 {
		code, dec := s.Do("POST", "/experiments/demo-thumbnails/decide", map[string]any{"event_id": fmt.Sprintf("dash-%d", i)}, auth...)
		if code != 200 {
			t.Fatalf("decide = %d %v", code, dec)
		}
		reward := 0.0
		if i%7 == 0 {
			reward = 1
		}
		if code, body := s.Do("POST", "/experiments/demo-thumbnails/rewards", map[string]any{"event_id": dec["event_id"], "reward": reward}, auth...); code != 200 {
			t.Fatalf("reward = %d %v", code, body)
		}
	}
	active, inactive := modelVersions(t, s, auth)

	// The browser's profile lives outside t.TempDir: a helper process of
	// chromium can still write to it for a moment after the browser is
	// closed, which made the TempDir cleanup fail the test now and then.
	profile, err := os.MkdirTemp("", "lift-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for range 50 {
			if err = os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("leaving the browser profile %s: %v", profile, err)
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1200, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	var errs browserErrors
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			errs.add("exception: " + ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				errs.add("console.error: " + strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			// The one expected failure is the 401 that makes the page ask
			// for the token.
			if ev.Entry.Level == log.LevelError && !(ev.Entry.Source == log.SourceNetwork && strings.Contains(ev.Entry.Text, "401")) {
				errs.add(fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *page.EventJavascriptDialogOpening:
			// The activate button asks for confirmation: accept it.
			go func() {
				if err := chromedp.Run(ctx, page.HandleJavaScriptDialog(true)); err != nil {
					errs.add("accepting the dialog: " + err.Error())
				}
			}()
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), chromedp.EmulateViewport(1200, 800)); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}

	// Without the token the page shows the prompt and nothing else.
	var charts int
	browse(ctx, t, "token prompt",
		chromedp.Navigate(s.URL+"/#/"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll(".chart").length`, &charts))
	if charts != 0 {
		t.Errorf("before the token, the page shows %d charts", charts)
	}
	// A token a browser cannot send (a curly quote from a copy) is
	// refused in the prompt, which stays.
	var note string
	browse(ctx, t, "enter a token with a curly quote",
		chromedp.Evaluate(fmt.Sprintf(`document.getElementById("token").value = %q`, token+"\u2019"), nil),
		chromedp.Click(`#token-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.Text("#token-note", &note, chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("token").value = ""`, nil))
	if !strings.Contains(note, "cannot send") {
		t.Errorf("a token with a curly quote: the prompt says %q", note)
	}
	browse(ctx, t, "enter the token",
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`#token-form button[type="submit"]`, chromedp.ByQuery))
	waitReady(ctx, t, "#/")
	// The header's links lead to pages once the token works (they stayed
	// on the overview until the next page change).
	var navs []string
	browse(ctx, t, "header links", chromedp.Poll(`(() => {
		const hs = ["models", "clips", "experiments"].map(n => document.querySelector('nav a[data-nav="' + n + '"]').getAttribute("href"));
		return hs.every(h => h !== "#/") ? hs : null })()`, &navs, chromedp.WithPollingTimeout(10*time.Second)))
	if len(navs) < 3 {
		t.Errorf("header links after the token: %v", navs)
	}

	screenshots := os.Getenv("LIFT_UPDATE_SCREENSHOTS") == "1"
	pages := []struct {
		name, hash string
		minCharts  int
	}{
		{"overview", "#/", 1},
		{"model", fmt.Sprintf("#/model/%d", active), 5},
		{"clip", "#/clip/demo-0001", 2},
		{"experiment", "#/experiment/demo-thumbnails", 5},
	}
	for _, p := range pages {
		if p.hash != "#/" {
			browse(ctx, t, p.name, chromedp.Navigate(s.URL+"/"+p.hash))
		}
		waitReady(ctx, t, p.hash)
		var got []struct {
			Title string `json:"title"`
			Marks int    `json:"marks"`
		}
		var prompts int
		browse(ctx, t, p.name+" charts",
			chromedp.Evaluate(`[...document.querySelectorAll("#main .chart")].map(c => ({
				title: (c.closest(".card")?.querySelector("h2")?.textContent || "") ,
				marks: Number(c.dataset.marks || 0) }))`, &got),
			chromedp.Evaluate(`document.querySelectorAll("#token").length`, &prompts))
		if prompts != 0 {
			t.Errorf("%s: the page asked for the token again", p.name)
		}
		if len(got) < p.minCharts {
			t.Errorf("%s: %d charts, want at least %d", p.name, len(got), p.minCharts)
		}
		for _, c := range got {
			if c.Marks == 0 {
				t.Errorf("%s: chart %q drew no data", p.name, c.Title)
			}
		}
		if screenshots {
			var png []byte
			browse(ctx, t, p.name+" screenshot", chromedp.FullScreenshot(&png, 100))
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "dashboard-"+p.name+".png"), png, 0o644); err != nil {
				t.Error(err)
			}
		}
		for _, e := range errs.take() {
			t.Errorf("%s: browser error: %s", p.name, e)
		}
	}

	// A page left before its answers came does not paint over the next:
	// the overview, then at once a model page.
	browse(ctx, t, "overview then model",
		chromedp.Navigate(s.URL+"/#/"),
		chromedp.Evaluate(fmt.Sprintf(`location.hash = "#/model/%d"`, active), nil))
	waitReady(ctx, t, fmt.Sprintf("#/model/%d", active))
	var heading string
	browse(ctx, t, "the page shown", chromedp.Sleep(time.Second), chromedp.Text("#main h2", &heading, chromedp.ByQuery))
	if !strings.HasPrefix(heading, "Model v") {
		t.Errorf("after going to a model page while the overview loaded, the page shows %q", heading)
	}

	// Rewards outside [0, 1] are shown as numbers, not percentages.
	if code, body := s.Do("POST", "/experiments", map[string]any{"id": "revenue", "variants": []map[string]string{{"id": "a"}, {"id": "b"}},
		"policy": map[string]string{"name": "epsilon-greedy"}, "reward_range": []float64{0, 100}}, auth...); code != 201 {
		t.Fatalf("create revenue = %d %v", code, body)
	}
	for i := range 20 {
		code, dec := s.Do("POST", "/experiments/revenue/decide", map[string]any{"event_id": fmt.Sprintf("r-%d", i)}, auth...)
		if code != 200 {
			t.Fatalf("decide = %d %v", code, dec)
		}
		if code, body := s.Do("POST", "/experiments/revenue/rewards", map[string]any{"event_id": dec["event_id"], "reward": 40}, auth...); code != 200 {
			t.Fatalf("reward = %d %v", code, body)
		}
	}
	browse(ctx, t, "revenue", chromedp.Navigate(s.URL+"/#/experiment/revenue"))
	waitReady(ctx, t, "#/experiment/revenue")
	var cells []string
	browse(ctx, t, "revenue means", chromedp.Evaluate(`[...document.querySelectorAll("#main table td:nth-child(4)")].map(td => td.textContent)`, &cells))
	for _, c := range cells {
		if strings.Contains(c, "%") || (c != "–" && c != "40") {
			t.Errorf("revenue experiment: a mean reward shown as %q, want 40", c)
		}
	}

	// A long id without spaces wraps instead of widening the page, and a
	// right-to-left id is isolated from the text around it.
	longID := strings.Repeat("x", 190) + "\u05d0"
	if code, body := s.Do("PUT", "/clips/"+longID, clipBody(30), auth...); code != 201 {
		t.Fatalf("PUT a long clip id = %d %v", code, body)
	}
	hash := "#/clip/" + url.PathEscape(longID)
	browse(ctx, t, "long clip id", chromedp.Navigate(s.URL+"/"+hash))
	waitReady(ctx, t, hash)
	var layout struct {
		Wide     bool `json:"wide"`
		Isolated bool `json:"isolated"`
	}
	browse(ctx, t, "long clip id layout", chromedp.Evaluate(`({
		wide: document.documentElement.scrollWidth > window.innerWidth,
		isolated: document.querySelector("#main h2 bdi")?.textContent === `+strconv.Quote(longID)+` })`, &layout))
	if layout.Wide || !layout.Isolated {
		t.Errorf("a clip page with a %d-byte id: wider than the window %v, id in a bdi %v", len(longID), layout.Wide, layout.Isolated)
	}

	// A long experiment id wraps in the overview without squeezing the
	// numbers beside it onto several lines.
	longExp := strings.Repeat("q", 180)
	if code, body := s.Do("POST", "/experiments", map[string]any{"id": longExp, "variants": []map[string]string{{"id": "a"}, {"id": "b"}}}, auth...); code != 201 {
		t.Fatalf("create a long experiment id = %d %v", code, body)
	}

	// One experiment whose stats fail does not take the overview with it.
	browse(ctx, t, "revenue's stats fail", chromedp.Evaluate(`(() => {
		const real = window.fetch;
		window.fetch = (path, init) => String(path).includes("/experiments/revenue/stats")
			? Promise.resolve(new Response('{"detail":"database is unavailable"}', { status: 503, headers: { "Content-Type": "application/json" } }))
			: real(path, init);
		location.hash = "#/";
	})()`, nil))
	waitReady(ctx, t, "#/")
	var broken []string
	browse(ctx, t, "overview layout", chromedp.Evaluate(`[...document.querySelectorAll("#main td")]
		.filter(td => td.childNodes.length === 1 && td.firstChild.nodeType === Node.TEXT_NODE)
		.filter(td => { const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length > 1 })
		.map(td => td.textContent)
		.concat(document.documentElement.scrollWidth > window.innerWidth ? ["the page is wider than the window"] : [])`, &broken))
	if len(broken) > 0 {
		t.Errorf("overview with a %d-character experiment id: cells broken over lines or page too wide: %q", len(longExp), broken)
	}
	var rows [][]string
	browse(ctx, t, "overview experiments", chromedp.Evaluate(`[...document.querySelectorAll("#main .card")].filter(c => c.querySelector("h2").textContent === "Experiments")
		.flatMap(c => [...c.querySelectorAll("tbody tr")]).map(tr => [...tr.cells].map(td => td.textContent))`, &rows))
	seen := map[string]string{}
	for _, r := range rows {
		if len(r) > 1 {
			seen[r[0]] = r[1]
		}
	}
	if !strings.Contains(seen["revenue"], "stats unavailable") || !strings.Contains(seen["revenue"], "database is unavailable") ||
		seen["demo-thumbnails"] == "" || strings.Contains(seen["demo-thumbnails"], "unavailable") {
		t.Errorf("overview with revenue's stats failing: experiment rows %q", rows)
	}
	browse(ctx, t, "reload", chromedp.Reload())

	// Roll back: activate the inactive version from its page.
	hash = fmt.Sprintf("#/model/%d", inactive)
	browse(ctx, t, "model page", chromedp.Navigate(s.URL+"/"+hash))
	waitReady(ctx, t, hash)
	var status string
	browse(ctx, t, "activate",
		chromedp.Click("#activate", chromedp.ByID),
		chromedp.WaitVisible(`//p[@id="activate-status" and contains(., "now active")]`, chromedp.BySearch),
		chromedp.Text("#activate-status", &status, chromedp.ByID))
	if nowActive, _ := modelVersions(t, s, auth); nowActive != inactive {
		t.Errorf("after activating v%d in the page, v%d is active (page says %q)", inactive, nowActive, status)
	}
	for _, e := range errs.take() {
		t.Errorf("activate: browser error: %s", e)
	}
}

// modelVersions returns the active version and another one.
func modelVersions(t *testing.T, s *server, auth []string) (active, other int64) {
	t.Helper()
	code, body := s.Do("GET", "/models", nil, auth...)
	if code != 200 {
		t.Fatalf("GET /models = %d %v", code, body)
	}
	for _, m := range body["models"].([]any) {
		m := m.(map[string]any)
		v := int64(m["version"].(float64))
		if m["active"] == true {
			active = v
		} else if other == 0 {
			other = v
		}
	}
	if active == 0 || other == 0 {
		t.Fatalf("want an active and an inactive version: %v", body)
	}
	return active, other
}

func browse(ctx context.Context, t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitReady waits until the page has rendered hash (app.js sets
// main[data-ready] after every chart is drawn).
func waitReady(ctx context.Context, t *testing.T, hash string) {
	t.Helper()
	sel := fmt.Sprintf(`#main[data-ready=%q]`, hash)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(wctx, chromedp.WaitReady(sel, chromedp.ByQuery)); err != nil {
		var text string
		_ = chromedp.Run(ctx, chromedp.Text("#main", &text, chromedp.ByID))
		t.Fatalf("page %s did not render: %v; it shows %q", hash, err, text)
	}
}
