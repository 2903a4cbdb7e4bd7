package producers

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// ClickstreamConfig tunes the clickstream generator; zero fields take
// defaults.
type ClickstreamConfig struct {
	// Users is the number of users (default 5000), keyed user-1 … user-N.
	Users int
	// SessionIdle ends a session after this long without events (default
	// 30 minutes); sessions also end after a random number of events.
	SessionIdle time.Duration
	// MeanSessionEvents is the mean number of events in a session (default 15).
	MeanSessionEvents float64
}

// ClickEvent is one clickstream record as JSON.
type ClickEvent struct {
	Event    string  `json:"event"` // page_view, click, add_to_cart or purchase
	User     string  `json:"user"`
	Session  string  `json:"session"`
	Page     string  `json:"page"`
	Referrer string  `json:"referrer"`
	UA       string  `json:"ua"`
	TS       string  `json:"ts"` // RFC 3339 with nanoseconds, UTC
	Target   string  `json:"target,omitempty"`
	Amount   float64 `json:"amount,omitempty"`
}

// The clickstream event names.
const (
	EventPageView  = "page_view"
	EventClick     = "click"
	EventAddToCart = "add_to_cart"
	EventPurchase  = "purchase"
)

// Clickstream generates web-shop events: users browse in sessions that last
// a while and then end, pages are visited with Zipf popularity over about
// 200 pages, and the funnel narrows from page views to clicks, carts and
// purchases.
type Clickstream struct {
	cfg   ClickstreamConfig
	users map[int]*clickUser
}

type clickUser struct {
	ua       string
	session  string
	left     int
	lastSeen time.Time
	lastPage string
	pageRef  string // the referrer of lastPage
	cart     int
}

// NewClickstream returns a clickstream generator.
func NewClickstream(cfg ClickstreamConfig) *Clickstream {
	if cfg.Users <= 0 {
		cfg.Users = 5000
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.MeanSessionEvents <= 0 {
		cfg.MeanSessionEvents = 15
	}
	return &Clickstream{cfg: cfg, users: map[int]*clickUser{}}
}

// Kind returns "clickstream".
func (*Clickstream) Kind() string { return "clickstream" }

// Entities returns the number of users.
func (c *Clickstream) Entities() int { return c.cfg.Users }

// Key returns user-(i+1).
func (*Clickstream) Key(i int) string { return "user-" + strconv.Itoa(i+1) }

const shopOrigin = "https://shop.example.com"

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0",
		"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	}
	// externalReferrers start sessions; "" is direct traffic.
	externalReferrers = []string{
		"https://www.google.com/", "https://www.google.com/", "https://www.google.com/",
		"", "", "https://www.bing.com/", "https://duckduckgo.com/",
		"https://t.co/", "https://news.ycombinator.com/", "https://mail.example.org/newsletter",
	}
	clickTargets = []string{"#buy", "#add-to-cart", "nav.menu", "a.product-card", "#search-submit", "a.breadcrumb", "#reviews", "img.gallery"}
	searchTerms  = []string{
		"shoes", "headphones", "coffee", "laptop+stand", "running", "backpack", "usb-c+cable", "desk+lamp",
		"kettle", "socks", "yoga+mat", "phone+case", "monitor", "keyboard", "water+bottle", "jacket",
		"sunglasses", "tent", "notebook", "gift+card",
	}
	categories = []string{"electronics", "home", "kitchen", "outdoor", "fashion", "sports", "books", "toys", "beauty", "garden"}
	// sitePages lists the shop's pages in order of popularity (rank 1 first).
	sitePages []string
	// productPages is the product subset of sitePages, in the same order.
	productPages []string
)

func init() {
	static := []string{"/cart", "/checkout", "/account", "/login", "/help", "/deals"}
	var rest []string
	rest = append(rest, static...)
	for _, t := range searchTerms {
		rest = append(rest, "/search?q="+t)
	}
	for _, c := range categories {
		rest = append(rest, "/c/"+c)
	}
	for i := 0; len(rest) < 199; i++ {
		rest = append(rest, "/p/"+strconv.Itoa(100+(i*7919)%9000))
	}
	// A fixed shuffle (independent of any producer's seed) ranks the pages;
	// the home page is always the most popular.
	fixed := rand.New(rand.NewPCG(0x5eed, 0xc11c))
	fixed.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	sitePages = append([]string{"/"}, rest...)
	for _, p := range sitePages {
		if strings.HasPrefix(p, "/p/") {
			productPages = append(productPages, p)
		}
	}
}

// pageZipfExponent is the Zipf exponent of page popularity.
const pageZipfExponent = 1.1

// Next returns the next event of a user chosen by keys.
func (c *Clickstream) Next(r *rand.Rand, now time.Time, keys KeyPicker) (string, []byte) {
	i := keys.Pick(r, c.cfg.Users)
	u := c.users[i]
	if u == nil {
		u = &clickUser{ua: userAgents[r.IntN(len(userAgents))]}
		c.users[i] = u
	}
	ev := ClickEvent{User: c.Key(i), UA: u.ua, TS: now.UTC().Format(time.RFC3339Nano)}
	newSession := u.session == "" || u.left <= 0 || now.Sub(u.lastSeen) > c.cfg.SessionIdle
	if newSession {
		u.session = fmt.Sprintf("s-%016x", r.Uint64())
		u.left = 1 + int(r.ExpFloat64()*(c.cfg.MeanSessionEvents-1))
		u.lastPage = ""
		u.cart = 0
		u.pageRef = externalReferrers[r.IntN(len(externalReferrers))]
	}
	ev.Session = u.session

	ev.Event = EventPageView
	if !newSession && u.lastPage != "" {
		switch x := r.Float64(); {
		case x < 0.30:
			ev.Event = EventClick
		case x < 0.40:
			ev.Event = EventAddToCart
		case x < 0.45 && u.cart > 0:
			ev.Event = EventPurchase
		}
	}
	// A page view's referrer is the page before it (or, first in a session,
	// an external site); events on a page carry that page's referrer.
	switch ev.Event {
	case EventPageView:
		ev.Page = sitePages[zipfTableFor(len(sitePages), pageZipfExponent).sample(r)]
		if u.lastPage != "" {
			u.pageRef = shopOrigin + u.lastPage
		}
	case EventClick:
		ev.Page = u.lastPage
		ev.Target = clickTargets[r.IntN(len(clickTargets))]
	case EventAddToCart:
		ev.Page = u.lastPage
		if !strings.HasPrefix(ev.Page, "/p/") { // quick-add from a listing
			u.pageRef = shopOrigin + u.lastPage
			ev.Page = productPages[zipfTableFor(len(productPages), pageZipfExponent).sample(r)]
		}
		u.cart++
	case EventPurchase:
		if u.lastPage != "/checkout" {
			u.pageRef = shopOrigin + u.lastPage
		}
		ev.Page = "/checkout"
		ev.Amount = float64(u.cart) * (5 + float64(r.IntN(19500))/100)
		ev.Amount = float64(int64(ev.Amount*100+0.5)) / 100
		u.cart = 0
		u.left = min(u.left, 1+r.IntN(2)) // most buyers leave soon after
	}
	ev.Referrer = u.pageRef
	u.lastPage = ev.Page
	u.lastSeen = now
	u.left--
	data, _ := json.Marshal(ev)
	return ev.User, data
}
