/// The one stylesheet of the dashboard (`/dashboard.css`): system fonts only, nothing fetched.
enum Style {
    static let css = """
        :root { --fg: #1c1e21; --muted: #5f6368; --line: #d8dadf; --bg: #ffffff; --panel: #f6f7f9; --accent: #1f5fa8; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
        a { color: var(--accent); }
        header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1.5rem; padding: .6rem 1.25rem; background: #16324f; }
        header.top a { color: #fff; text-decoration: none; }
        .brand { font-weight: 700; font-size: 1.15rem; }
        header nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1.1rem; list-style: none; margin: 0; padding: 0; }
        header nav a[aria-current="page"] { text-decoration: underline; text-underline-offset: .3em; }
        main { max-width: 1200px; margin: 0 auto; padding: .75rem 1.25rem 3rem; }
        h1 { font-size: 1.6rem; margin: .6rem 0 .2rem; overflow-wrap: anywhere; }
        h2 { font-size: 1.2rem; margin: 1.8rem 0 .5rem; }
        .sub { color: var(--muted); margin: 0 0 1rem; }
        section { margin-bottom: 1.5rem; }
        form.range { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; background: var(--panel); padding: .6rem .8rem; border-radius: 6px; }
        form.range label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
        form.range input, form.range select, form.range button { font: inherit; padding: .2rem .4rem; }
        .toggle { margin: .6rem 0; }
        .toggle a, .toggle strong { margin-right: 1rem; }
        .chart-box { margin: .5rem 0; }
        svg.chart { display: block; width: 100%; max-width: 940px; height: auto; font-size: 13px; fill: var(--fg); }
        /* A small multiple is drawn at about half the width: its text is larger in view-box units. */
        svg.chart.small { font-size: 24px; }
        svg.chart.small .minor { display: none; }
        svg.chart .grid { stroke: #e6e8eb; stroke-width: 1; }
        svg.chart .base { stroke: #9aa0a6; stroke-width: 1; }
        svg.chart .axis text { fill: var(--muted); }
        svg.chart .axis .label { fill: var(--fg); font-weight: 600; }
        svg.chart .area { opacity: .85; stroke: #fff; stroke-width: .6; }
        svg.chart .line { fill: none; stroke-width: 2.5; }
        svg.chart circle.pt { stroke: #fff; stroke-width: 1; }
        svg.chart rect:hover, svg.chart circle.pt:hover { opacity: .7; }
        .legend { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; list-style: none; padding: 0; margin: .3rem 0; font-size: .95rem; }
        .swatch { display: inline-block; width: .9em; height: .9em; margin-right: .35em; vertical-align: -.1em; border-radius: 2px; }
        .swatch.line { height: 0; border-top: 3px solid; border-radius: 0; vertical-align: .25em; width: 1.4em; }
        .multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: .5rem 1.5rem; }
        .multiples h3 { font-size: 1rem; margin: .6rem 0 0; }
        .scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
        table { border-collapse: collapse; margin: .3rem 0; font-size: .95rem; }
        caption { text-align: left; font-weight: 600; padding: .3rem 0; color: var(--fg); }
        th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        thead th { border-bottom: 2px solid #b9bdc3; white-space: nowrap; }
        td.id, th.id { white-space: nowrap; }
        td.ids { min-width: 8rem; font-size: .88rem; }
        td.ids code { white-space: nowrap; }
        td.links { min-width: 12rem; }
        td.links a { white-space: nowrap; margin-right: .2em; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tfoot th, tfoot td { font-weight: 600; }
        tfoot tr:first-child > * { border-top: 2px solid #b9bdc3; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
        details.alt { margin: .3rem 0 1rem; }
        details.alt summary { cursor: pointer; color: var(--accent); }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: .8rem; margin: .5rem 0 1rem; }
        .card { background: var(--panel); border-radius: 6px; padding: .6rem .8rem; border-left: 5px solid #9aa0a6; }
        .card h3 { margin: 0 0 .3rem; font-size: 1rem; overflow-wrap: anywhere; }
        .card dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0; font-size: .93rem; }
        .card dt { color: var(--muted); }
        .card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
        .card.exhausted { border-left-color: #b71c1c; }
        .card.running_out { border-left-color: #e37400; }
        .card.ok { border-left-color: #2e7d32; }
        .status { display: inline-block; padding: 0 .45em; border-radius: 3px; font-size: .85rem; font-weight: 600; background: #e8eaed; }
        .status.exhausted { background: #fde0dc; color: #8c1d18; }
        .status.running_out { background: #feefc3; color: #7a4100; }
        .status.ok { background: #ddf3e0; color: #1e5b24; }
        .status.finalized { background: #d2e3fc; color: #174ea6; }
        .status.draft { background: #e8eaed; color: #3c4043; }
        table.heat td.num { min-width: 4.2em; }
        table.heat th[scope="row"] { white-space: nowrap; max-width: 22rem; overflow: hidden; text-overflow: ellipsis; position: sticky; left: 0; background: #fff; }
        .up { color: #1e6b2a; }
        .down { color: #b3261e; }
        .error { background: #fde0dc; border-left: 5px solid #b71c1c; padding: .6rem 1rem; border-radius: 4px; }
        pre { background: var(--panel); padding: .8rem; overflow-x: auto; font-size: .85rem; }
        @media (max-width: 640px) {
          main { padding: .5rem .75rem 2rem; }
          h1 { font-size: 1.3rem; }
          /* The view box shrinks to about half: larger text in its units stays legible. */
          svg.chart, svg.chart.small { font-size: 22px; }
          svg.chart .minor { display: none; }
          .multiples { grid-template-columns: 1fr; }
          caption { position: sticky; left: 0; max-width: calc(100vw - 1.5rem); }
          table { font-size: .88rem; }
          table.heat th[scope="row"] { max-width: 8.5rem; }
        }

        """
}
