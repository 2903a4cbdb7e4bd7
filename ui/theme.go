package ui

import "github.com/charmbracelet/lipgloss"

// Theme names the console's few semantic colours. Each adapts to light and
// dark backgrounds; lipgloss and termenv drop them on terminals without
// colour and under NO_COLOR, so no meaning may rest on colour alone.
type Theme struct {
	Primary lipgloss.AdaptiveColor // emphasis: names, the selected row
	Faint   lipgloss.AdaptiveColor // column headers, closed shards, hints
	Border  lipgloss.AdaptiveColor // pane borders
	OK      lipgloss.AdaptiveColor // below 70 % of a limit
	Warn    lipgloss.AdaptiveColor // 70–90 %, throttling
	Danger  lipgloss.AdaptiveColor // 90 % and more, errors
	Accent  lipgloss.AdaptiveColor // focus, titles, action outcomes
}

// DefaultTheme is the console's palette, chosen to keep contrast on both
// light and dark terminals.
var DefaultTheme = Theme{
	Primary: lipgloss.AdaptiveColor{Light: "#1F2328", Dark: "#E6EDF3"},
	Faint:   lipgloss.AdaptiveColor{Light: "#6E7781", Dark: "#7D8590"},
	Border:  lipgloss.AdaptiveColor{Light: "#AFB8C1", Dark: "#484F58"},
	OK:      lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"},
	Warn:    lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#D29922"},
	Danger:  lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#F85149"},
	Accent:  lipgloss.AdaptiveColor{Light: "#0969DA", Dark: "#58A6FF"},
}
