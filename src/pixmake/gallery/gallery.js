// pixmake gallery: the cards, the filters and the before/after comparison, from the page's data.
// Everything shown is set with textContent or attributes: no string of the data becomes markup.
// A host page (pixmake review) may define window.pixmakeActions before this script:
//   { name: { label: "Approve", when(asset) -> bool, run(asset, gallery) -> Promise|void } }
// and each card then gets a button per action; without it, cards have none.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("pixmake-data").textContent);
  const assets = data.assets;
  const actions = window.pixmakeActions && typeof window.pixmakeActions === "object"
    ? window.pixmakeActions : null;
  const CHUNK = 120;
  const byId = new Map(assets.map((a, i) => [a.id, i]));
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  // -- search text and series, computed once ------------------------------------------------
  const series = [];
  const seriesCount = new Map();
  for (const a of assets) {
    if (!seriesCount.has(a.series)) series.push(a.series);
    seriesCount.set(a.series, (seriesCount.get(a.series) || 0) + 1);
    a._text = [a.id, a.prompt, a.model, a.model_id, a.series, a.quality, a.size, a.state,
      ...(a.reasons || []), ...a.refs.map((r) => r.text), ...a.outputs.map((o) => o.path)]
      .join("\n").toLowerCase();
  }
  const order = [];  // asset indexes grouped by series, each series in plan order
  for (const s of series) assets.forEach((a, i) => { if (a.series === s) order.push(i); });
  const changed = assets.filter((a) => a.since && a.since.change === "changed").length;
  const sinceShort = data.since.commit ? data.since.commit.slice(0, 7) : null;

  // -- header ------------------------------------------------------------------------------
  $("project").textContent = data.project;
  const summary = $("summary");
  summary.append(`${assets.length} asset${assets.length === 1 ? "" : "s"} in ${series.length} `
    + `series`);
  if (sinceShort) {
    summary.append(` · ${changed} changed since `);
    summary.append(el("code", { text: data.since.rev }));
    if (data.since.rev !== sinceShort) summary.append(` (${sinceShort})`);
  }
  summary.append(` · ${data.generator}`);
  if (data.since.note) { $("note").textContent = data.since.note; $("note").hidden = false; }

  // -- filters ----------------------------------------------------------------------------
  const filter = { states: new Set(), series: "", words: [], since: false };
  const stateColor = (s) => `var(--s-${s})`;
  const chips = $("states");
  const allChip = el("button", { type: "button", class: "chip", "data-state": "", "aria-pressed": "true" },
    el("span", { text: "All" }), el("span", { class: "n" }));
  chips.append(allChip);
  const stateChips = new Map();
  for (const s of data.states) {
    const chip = el("button", { type: "button", class: "chip", "data-state": s, "aria-pressed": "false" },
      el("span", { class: "dot" }), el("span", { text: s }), el("span", { class: "n" }));
    chip.style.setProperty("--c", stateColor(s));
    stateChips.set(s, chip);
    chips.append(chip);
  }
  let sinceChip = null;
  if (sinceShort) {
    sinceChip = el("button", { type: "button", class: "chip since", "data-since": "", "aria-pressed": "false",
      title: `Only the assets whose image differs from ${data.since.rev}` },
    el("span", { text: `changed since ${data.since.rev}` }), el("span", { class: "n" }));
    chips.append(sinceChip);
  }
  chips.addEventListener("click", (event) => {
    const chip = event.target.closest(".chip");
    if (!chip) return;
    if (chip === sinceChip) filter.since = !filter.since;
    else if (chip === allChip) filter.states.clear();
    else {
      const s = chip.dataset.state;
      if (filter.states.has(s)) filter.states.delete(s); else filter.states.add(s);
    }
    update();
  });
  const select = $("series");
  select.append(el("option", { value: "", text: `All series (${series.length})` }));
  for (const s of series) select.append(el("option", { value: s, text: `${s} (${seriesCount.get(s)})` }));
  select.addEventListener("change", () => { filter.series = select.value; update(); });
  const search = $("search");
  search.addEventListener("input", () => {
    filter.words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    update();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== search && !dialog.open) {
      event.preventDefault();
      search.focus();
    }
  });
  $("reset").addEventListener("click", () => resetFilters());

  function resetFilters() {
    filter.states.clear(); filter.series = ""; filter.words = []; filter.since = false;
    search.value = ""; select.value = "";
    update();
  }

  function matchesBut(a, skip) {
    if (skip !== "series" && filter.series && a.series !== filter.series) return false;
    if (skip !== "since" && filter.since && !(a.since && a.since.change === "changed")) return false;
    if (skip !== "state" && filter.states.size && !filter.states.has(a.state)) return false;
    for (const w of filter.words) if (!a._text.includes(w)) return false;
    return true;
  }

  // -- cards, rendered a chunk at a time as the page scrolls --------------------------------
  const groups = $("groups");
  let shown = [];  // asset indexes passing the filters, in display order
  let rendered = 0;
  let lastGroup = null;

  function update() {
    shown = order.filter((i) => matchesBut(assets[i], null));
    const counts = new Map(data.states.map((s) => [s, 0]));
    let base = 0;
    let sinceCount = 0;
    for (const a of assets) {
      if (matchesBut(a, "state")) { counts.set(a.state, counts.get(a.state) + 1); base += 1; }
      if (matchesBut(a, "since") && a.since && a.since.change === "changed") sinceCount += 1;
    }
    allChip.querySelector(".n").textContent = base;
    allChip.setAttribute("aria-pressed", String(filter.states.size === 0));
    for (const [s, chip] of stateChips) {
      chip.querySelector(".n").textContent = counts.get(s);
      chip.setAttribute("aria-pressed", String(filter.states.has(s)));
      chip.hidden = counts.get(s) === 0 && !filter.states.has(s);
    }
    if (sinceChip) {
      sinceChip.querySelector(".n").textContent = sinceCount;
      sinceChip.setAttribute("aria-pressed", String(filter.since));
    }
    $("shown").textContent = shown.length === assets.length
      ? `${assets.length} shown` : `${shown.length} of ${assets.length} shown`;
    $("empty").hidden = shown.length > 0;
    groups.replaceChildren();
    rendered = 0;
    lastGroup = null;
    renderMore();
  }

  function renderMore(upTo) {
    const end = Math.min(shown.length, Math.max(rendered + CHUNK, upTo === undefined ? 0 : upTo + 1));
    for (; rendered < end; rendered += 1) {
      const a = assets[shown[rendered]];
      if (!lastGroup || lastGroup.series !== a.series) lastGroup = newGroup(a.series);
      lastGroup.grid.append(card(a));
    }
  }

  function newGroup(name) {
    const visible = shown.filter((i) => assets[i].series === name).length;
    const total = seriesCount.get(name);
    const count = visible === total ? `${total}` : `${visible} of ${total}`;
    const grid = el("div", { class: "grid" });
    const section = el("section", { class: "group", "data-series": name },
      el("div", { class: "group-head" }, el("h2", { text: name }),
        el("span", { class: "count", text: `${count} asset${total === 1 ? "" : "s"}` })),
      grid);
    groups.append(section);
    return { series: name, grid };
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && rendered < shown.length) renderMore();
  }, { rootMargin: "1600px 0px" });
  observer.observe($("more"));

  function money(value) {
    if (value === null || value === undefined) return null;
    if (value === 0) return "$0";
    return "$" + (value < 0.01 ? value.toFixed(4) : value.toFixed(3)).replace(/0+$/, "").replace(/\.$/, "");
  }

  function picture(p, alt) {
    return el("img", { src: p.src, width: p.w, height: p.h, alt, loading: "lazy", decoding: "async" });
  }

  function card(a) {
    const node = el("article", { class: `card state-${a.state}`, id: `asset-${a.id}`, "data-id": a.id,
      "data-state": a.state });
    node.style.setProperty("--c", stateColor(a.state));
    const frame = el("div", { class: a.transparent ? "frame checker" : "frame" });
    if (a.thumb.src) {
      const full = a.outputs.length && a.outputs[0].href;
      const img = picture(a.thumb, a.id);
      frame.append(full ? el("a", { class: "full", href: full, title: "Open the full image" }, img) : img);
    } else {
      frame.append(el("div", { class: "noimg", text: a.thumb.problem || "no image" }));
    }
    if (a.since && a.since.change === "changed") {
      frame.append(el("span", { class: "ribbon", title: `The image differs from ${data.since.rev}'s` },
        "changed", el("span", { class: "long", text: ` since ${data.since.rev}` })));
      if (a.since.before_thumb && a.since.before_thumb.src) {
        frame.append(el("div", { class: "inset checker", title: `Before (${data.since.rev})` },
          picture(a.since.before_thumb, `${a.id} before`)));
      }
      const button = el("button", { type: "button", class: "compare-btn", text: "Compare" });
      button.addEventListener("click", () => openCompare(a.id));
      frame.append(button);
    } else if (a.since && a.since.change === "new") {
      frame.append(el("span", { class: "ribbon new", title: `Not in ${data.since.rev}'s pixmake.lock` },
        "new", el("span", { class: "long", text: ` since ${data.since.rev}` })));
    }
    const body = el("div", { class: "body" });
    body.append(el("div", { class: "head" }, el("code", { class: "id", text: a.id }),
      el("span", { class: "state", text: a.state })));
    const meta = el("div", { class: "meta" });
    for (const part of [a.model, a.quality, a.size && a.size.replace("x", "×")]) {
      if (part) meta.append(el("span", { text: part, title: part === a.model ? a.model_id : null }));
    }
    const cost = money(a.cost);
    if (cost !== null) meta.append(el("span", { class: "cost", text: a.placeholder ? "placeholder" : cost,
      title: a.placeholder ? "drawn by the placeholder provider: a real build replaces it" : "cost recorded in pixmake.lock" }));
    if (a.estimate === "unknown") meta.append(el("span", { class: "cost", text: "price unknown" }));
    else if (a.estimate) meta.append(el("span", { class: "cost", text: `~${money(a.estimate)} to generate` }));
    if (a.flagged && a.flagged.length) meta.append(el("span", { class: "flagged", text: "⚑ flagged",
      title: `Runware's content check flagged ${a.flagged.join(", ")} (NSFWContent in pixmake.lock)` }));
    if (a.approved) meta.append(el("span", { class: "approved", text: "✓ approved",
      title: "its current output is approved (pixmake approve)" }));
    body.append(meta);
    if (a.prompt) {
      const prompt = el("p", { class: "prompt", text: a.prompt, title: "Click to show the whole prompt" });
      prompt.addEventListener("click", () => prompt.classList.toggle("open"));
      body.append(prompt);
    }
    if (a.reasons && a.reasons.length) {
      body.append(el("ul", { class: "reasons" }, ...a.reasons.map((r) => el("li", { text: r }))));
    }
    if (a.refs.length) body.append(links("refs", a.refs.map(reference)));
    const extra = a.outputs.slice(1);
    if (extra.length) body.append(links("files", extra.map((o) => o.href
      ? el("a", { href: o.href, text: o.path.split("/").pop(), title: o.path })
      : el("span", { class: "ref", text: o.path.split("/").pop(), title: `${o.path}: not on disk` }))));
    if (actions) body.append(actionButtons(a));
    node.append(frame, body);
    return node;
  }

  function links(label, items) {
    return el("div", { class: "links" }, el("span", { class: "label", text: label }), ...items);
  }

  function reference(r) {
    if (r.kind === "asset") {
      const link = el("a", { href: `#asset-${r.target}`, text: r.text, "data-target": r.target });
      link.addEventListener("click", (event) => { event.preventDefault(); jumpTo(r.target); });
      return link;
    }
    if (r.href) {
      return el("a", { href: r.href, text: r.text, title: r.text, rel: r.kind === "url" ? "noopener noreferrer" : null });
    }
    return el("span", { class: "ref", text: r.text, title: r.text });
  }

  function actionButtons(a) {
    const box = el("div", { class: "actions" });
    for (const [name, action] of Object.entries(actions)) {
      if (action.when && !action.when(a)) continue;
      const button = el("button", { type: "button", "data-action": name, text: action.label || name });
      button.addEventListener("click", () => action.run(a, api));
      box.append(button);
    }
    return box;
  }

  function jumpTo(id) {
    const index = byId.get(id);
    if (index === undefined) return false;
    let at = shown.indexOf(index);
    if (at < 0) { resetFilters(); at = shown.indexOf(index); }
    renderMore(at);
    const node = document.getElementById(`asset-${id}`);
    history.replaceState(null, "", `#asset-${encodeURIComponent(id)}`);
    node.scrollIntoView({ block: "center" });
    node.classList.remove("flash");
    void node.offsetWidth;
    node.classList.add("flash");
    return true;
  }

  // -- comparison ------------------------------------------------------------------------
  const dialog = $("compare");
  const stage = $("stage");
  let current = null;

  function comparable() {
    return shown.map((i) => assets[i]).filter((a) => a.since && a.since.change === "changed");
  }

  function show(img, p) {
    if (p && p.src) { img.src = p.src; img.width = p.w; img.height = p.h; img.hidden = false; }
    else { img.removeAttribute("src"); img.hidden = true; }
  }

  function openCompare(id) {
    const a = assets[byId.get(id)];
    current = a;
    $("compare-id").textContent = a.id;
    $("compare-since").textContent = `before: ${data.since.rev}${sinceShort && data.since.rev !== sinceShort ? ` (${sinceShort})` : ""} · after: the working tree`;
    const s = a.since;
    for (const [img, p] of [["side-before", s.before], ["side-after", s.after], ["swipe-before", s.before],
      ["swipe-after", s.after], ["blink-before", s.before], ["blink-after", s.after], ["diff", s.diff]]) {
      show($(img), p);
    }
    for (const pane of stage.querySelectorAll(".pane:not(.diffpane)")) {
      pane.classList.toggle("checker", Boolean(a.transparent));
    }
    const list = comparable();
    const at = list.indexOf(a);
    $("compare-count").textContent = list.length > 1 ? `${at + 1} / ${list.length}` : "";
    $("compare-prev").disabled = at <= 0;
    $("compare-next").disabled = at < 0 || at >= list.length - 1;
    $("compare-prev").hidden = $("compare-next").hidden = list.length < 2;
    setBlink("after");
    if (!dialog.open) dialog.showModal();
  }

  function step(delta) {
    const list = comparable();
    const next = list[list.indexOf(current) + delta];
    if (next) openCompare(next.id);
  }

  function setMode(mode) {
    stage.dataset.mode = mode;
    for (const b of dialog.querySelectorAll(".modes button")) {
      b.setAttribute("aria-selected", String(b.dataset.mode === mode));
    }
  }

  function setBlink(which) {
    $("blink").dataset.showing = which;
    $("blink-label").textContent = which === "before" ? "Before" : "After";
    $("blink-toggle").textContent = which === "before" ? "Show after" : "Show before";
  }
  const toggleBlink = () => setBlink($("blink").dataset.showing === "before" ? "after" : "before");

  function setSwipe(value) {
    const pos = Math.max(0, Math.min(100, value));
    $("swipe").style.setProperty("--pos", `${pos}%`);
    $("swipe-range").value = String(pos);
  }

  dialog.querySelector(".modes").addEventListener("click", (event) => {
    const b = event.target.closest("button");
    if (b) setMode(b.dataset.mode);
  });
  $("compare-close").addEventListener("click", () => dialog.close());
  $("compare-prev").addEventListener("click", () => step(-1));
  $("compare-next").addEventListener("click", () => step(1));
  $("blink-toggle").addEventListener("click", toggleBlink);
  $("blink").addEventListener("click", toggleBlink);
  $("swipe-range").addEventListener("input", (event) => setSwipe(Number(event.target.value)));
  const swipe = $("swipe");
  const drag = (event) => {
    const box = swipe.getBoundingClientRect();
    setSwipe(((event.clientX - box.left) / box.width) * 100);
  };
  swipe.addEventListener("pointerdown", (event) => { swipe.setPointerCapture(event.pointerId); drag(event); });
  swipe.addEventListener("pointermove", (event) => { if (swipe.hasPointerCapture(event.pointerId)) drag(event); });
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("keydown", (event) => {
    if (event.target === $("swipe-range")) return;
    if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
    else if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    else if ((event.key === "b" || event.key === " ") && stage.dataset.mode === "blink") {
      event.preventDefault();
      toggleBlink();
    } else if (["1", "2", "3", "4"].includes(event.key)) {
      setMode(["side", "swipe", "blink", "diff"][Number(event.key) - 1]);
    }
  });
  setMode("side");

  // -- start -------------------------------------------------------------------------------
  const api = { data, assets, el, jumpTo, openCompare, update, resetFilters };
  window.pixmakeGallery = api;
  update();
  performance.mark("pixmake-cards");
  const hash = decodeURIComponent(location.hash.replace(/^#asset-/, ""));
  if (hash && byId.has(hash)) jumpTo(hash);
})();
