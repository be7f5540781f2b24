// The handbook's search: matches as you type, from the index in search-index.js; no server, no network.
(function () {
  "use strict";
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  if (!input || !list) return;
  var root = document.documentElement.getAttribute("data-root") || "";
  var kindWeight = { Policy: 6, Procedure: 6, Role: 3, Person: 3, Rule: 1 };
  function fold(text) {
    return String(text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  var entries = (window.AIOS_HANDBOOK_INDEX || []).map(function (entry) {
    return { entry: entry, title: fold(entry.title), text: fold(entry.title + " " + entry.summary + " " + entry.text) };
  });
  var active = -1;

  function score(item, words) {
    var total = kindWeight[item.entry.kind.split(" ")[0]] || 0;
    for (var i = 0; i < words.length; i++) {
      var word = words[i];
      var at = item.text.indexOf(word);
      if (at < 0) return -1;
      if (item.title.indexOf(word) >= 0) total += 10;
      if (at === 0 || /[^a-z0-9]/.test(item.text.charAt(at - 1))) total += 3;
      total += 1;
    }
    return total;
  }

  function snippet(text, words) {
    var folded = fold(text);
    var at = -1;
    for (var i = 0; i < words.length && at < 0; i++) at = folded.indexOf(words[i]);
    var start = at < 90 ? 0 : text.lastIndexOf(" ", at - 40) + 1;
    var end = Math.min(text.length, start + 160);
    if (end < text.length && text.lastIndexOf(" ", end) > start) end = text.lastIndexOf(" ", end);
    return (start > 0 ? "…" : "") + text.slice(start, end) + (end < text.length ? "…" : "");
  }

  function highlighted(text, words) {
    var fragment = document.createDocumentFragment();
    var folded = fold(text);
    var position = 0;
    while (position < text.length) {
      var next = -1, length = 0;
      for (var i = 0; i < words.length; i++) {
        var at = folded.indexOf(words[i], position);
        if (at >= 0 && (next < 0 || at < next)) { next = at; length = words[i].length; }
      }
      if (next < 0 || folded.length !== text.length) {
        fragment.appendChild(document.createTextNode(text.slice(position)));
        break;
      }
      fragment.appendChild(document.createTextNode(text.slice(position, next)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(next, next + length);
      fragment.appendChild(mark);
      position = next + length;
    }
    return fragment;
  }

  function show(query) {
    var words = fold(query).split(/[^a-z0-9$%.,]+/).map(function (w) { return w.replace(/[.,]+$/, ""); })
      .filter(function (w) { return w.length > 0; });
    list.textContent = "";
    active = -1;
    if (!words.length) { hide(); return; }
    var found = [];
    for (var i = 0; i < entries.length; i++) {
      var value = score(entries[i], words);
      if (value >= 0) found.push({ item: entries[i], value: value });
    }
    found.sort(function (a, b) { return b.value - a.value || a.item.title.localeCompare(b.item.title); });
    if (!found.length) {
      var none = document.createElement("li");
      none.className = "empty";
      none.textContent = "Nothing found for “" + query + "”.";
      list.appendChild(none);
    }
    found.slice(0, 12).forEach(function (hit) {
      var entry = hit.item.entry;
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      var a = document.createElement("a");
      a.href = root + entry.url;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = entry.kind;
      var title = document.createElement("strong");
      title.appendChild(highlighted(entry.title, words));
      var inSummary = words.some(function (w) { return fold(entry.summary).indexOf(w) >= 0; });
      var source = inSummary || !words.some(function (w) { return fold(entry.text).indexOf(w) >= 0; })
        ? entry.summary : entry.text;
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.appendChild(highlighted(snippet(source, words), words));
      a.appendChild(kind);
      a.appendChild(title);
      a.appendChild(detail);
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function hide() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  function move(step) {
    var items = list.querySelectorAll("li[role=option]");
    if (!items.length) return;
    if (active >= 0) items[active].classList.remove("active");
    active = (active + step + items.length) % items.length;
    items[active].classList.add("active");
    items[active].scrollIntoView({ block: "nearest" });
  }

  input.addEventListener("input", function () { show(input.value); });
  input.addEventListener("focus", function () { if (input.value) show(input.value); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Escape") { hide(); input.blur(); }
    else if (event.key === "Enter") {
      var items = list.querySelectorAll("li[role=option] a");
      var chosen = items[Math.max(active, 0)];
      if (chosen) window.location.href = chosen.href;
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".search")) hide();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { input.focus(); event.preventDefault(); }
  });
})();
