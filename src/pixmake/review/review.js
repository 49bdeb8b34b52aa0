// pixmake review: the actions on each card of the gallery (gallery.js reads window.pixmakeActions).
// Every request carries the token as a header besides the cookie: the server refuses any other.
// After an action the page is loaded again (the server writes the gallery anew) at the card.
(function () {
  "use strict";
  const config = window.pixmakeReview;
  const NOTE = "pixmake-review-note";
  let busy = false;

  // gallery.js's, once it has run: the actions run after it
  const el = (...args) => window.pixmakeGallery.el(...args);

  async function call(method, path, body) {
    const headers = { [config.header]: config.token };
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin", cache: "no-store",
    });
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    if (!response.ok) {
      throw new Error((answer && answer.error) || `the server answered ${response.status}`);
    }
    return answer;
  }

  const usd = (value) => String(Number(value.toFixed(4)));

  // -- messages ------------------------------------------------------------------------------
  let toastNode = null;
  function toast(text, kind) {
    if (!toastNode) {
      toastNode = el("div", { id: "review-toast", role: "status", "aria-live": "polite" });
      document.body.append(toastNode);
    }
    const close = el("button", { type: "button", class: "close", "aria-label": "Dismiss", text: "×" });
    close.addEventListener("click", () => { toastNode.hidden = true; });
    toastNode.replaceChildren(el("span", { class: "text", text }), close);
    toastNode.className = kind || "";
    toastNode.hidden = false;
  }

  function reloadAt(id, note) {
    sessionStorage.setItem(NOTE, note);
    history.replaceState(null, "", `#asset-${encodeURIComponent(id)}`);
    location.reload();
  }

  // One action at a time, as the server runs them: the buttons wait for the answer.
  function guarded(run) {
    return async (asset, gallery) => {
      if (busy) return;
      busy = true;
      document.body.classList.add("review-busy");
      try {
        await run(asset, gallery);
      } catch (error) {
        toast(error.message, "error");
      } finally {
        busy = false;
        document.body.classList.remove("review-busy");
      }
    };
  }

  // -- pick ----------------------------------------------------------------------------------
  let dialog = null;
  function pickDialog() {
    if (dialog) return dialog;
    dialog = el("dialog", { id: "review-pick", "aria-labelledby": "review-pick-title" });
    const close = el("button", { type: "button", class: "close", "aria-label": "Close", title: "Close (Esc)", text: "×" });
    close.addEventListener("click", () => dialog.close());
    dialog.append(
      el("header", { class: "review-head" },
        el("h2", { id: "review-pick-title" }), close),
      el("p", { class: "review-hint", text: "Free: the image you click becomes the output (as `pixmake pick` does); "
        + "the one it replaces stays in the history." }),
      el("div", { class: "review-images", id: "review-images" }));
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
    document.body.append(dialog);
    return dialog;
  }

  function imageChoice(asset, item) {
    const marks = [];
    if (item.current) marks.push("current");
    if (item.approved) marks.push("approved");
    if (!item.available) marks.push("unavailable");
    const frame = el("div", { class: asset.transparent ? "review-thumb checker" : "review-thumb" },
      item.src ? el("img", { src: item.src, alt: `image ${item.number}`, loading: "lazy", decoding: "async" })
        : el("span", { class: "noimg", text: item.available ? "no preview" : "in no store" }));
    const cost = item.cost_usd === null ? null : `${usd(item.cost_usd)} USD`;
    const when = item.date ? item.date.slice(0, 10) : "uncommitted";
    const button = el("button", {
      type: "button", class: "review-image", "data-number": item.number, "data-hash": item.hash,
      disabled: item.current || !item.available,
      title: item.current ? "the output now" : `Make image ${item.number} the output of ${asset.id}`,
    }, frame,
    el("span", { class: "review-caption" },
      el("strong", { text: `${item.number}` }),
      ...marks.map((m) => el("span", { class: `mark ${m}`, text: m }))),
    el("span", { class: "review-meta", text: [item.source, when, cost].filter(Boolean).join(" · ") }),
    el("span", { class: "review-prompt", text: item.request.prompt || "", title: item.request.prompt || "" }));
    button.addEventListener("click", guarded(async () => {
      await call("POST", "/api/pick", { id: asset.id, image: item.hash });
      reloadAt(asset.id, `Picked image ${item.number} as the output of ${asset.id}`);
    }));
    return button;
  }

  async function pick(asset) {
    const answer = await call("GET", `/api/history?id=${encodeURIComponent(asset.id)}`);
    const box = pickDialog();
    const title = box.querySelector("#review-pick-title");
    title.replaceChildren("Pick an image of ", el("code", { text: asset.id }));
    const list = box.querySelector("#review-images");
    list.replaceChildren(...answer.images.map((item) => imageChoice(asset, item)));
    if (!answer.images.length) list.append(el("p", { class: "review-hint", text: "No image yet: build it first." }));
    if (!box.open) box.showModal();
  }

  // -- reroll, accept, approve ---------------------------------------------------------------
  async function reroll(asset) {
    const estimate = await call("POST", "/api/reroll", { id: asset.id });
    if (!estimate.key_set) {
      throw new Error(`cannot reroll ${asset.id}: ${estimate.key_variable} is not set where pixmake review runs\n`
        + `  fix: export ${estimate.key_variable}=<your key>, then start pixmake review again`);
    }
    const price = estimate.estimate_usd === null ? "a price pixmake does not know"
      : `~${usd(estimate.estimate_usd)} USD`;
    const others = estimate.generate.filter((id) => id !== asset.id).length;
    const more = others ? ` (and ${others} upstream asset${others === 1 ? "" : "s"} to generate)` : "";
    if (!window.confirm(`Reroll ${asset.id} for ${price}${more}?`)) return;
    toast(`Rerolling ${asset.id}…`, "working");
    const done = await call("POST", "/api/reroll", { id: asset.id, confirm: true });
    reloadAt(asset.id, `Rerolled ${asset.id} for ${usd(done.cost_usd)} USD; the earlier image stays a candidate`);
  }

  async function accept(asset) {
    await call("POST", "/api/accept", { id: asset.id });
    reloadAt(asset.id, `Accepted the file on disk as the output of ${asset.id}`);
  }

  async function approve(asset) {
    await call("POST", "/api/approve", { id: asset.id });
    reloadAt(asset.id, `Approved ${asset.id}`);
  }

  const declared = (a) => a.state !== "orphaned";
  window.pixmakeActions = {
    pick: { label: "Pick…", when: (a) => declared(a) && a.state !== "new", run: guarded(pick) },
    accept: { label: "Accept edit", when: (a) => a.state === "modified", run: guarded(accept) },
    reroll: { label: "Reroll…", when: declared, run: guarded(reroll) },
    approve: {
      label: "Approve", when: (a) => declared(a) && a.state !== "new" && !a.approved, run: guarded(approve),
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    const note = sessionStorage.getItem(NOTE);
    sessionStorage.removeItem(NOTE);
    if (note) toast(note, "done");
  });
})();
