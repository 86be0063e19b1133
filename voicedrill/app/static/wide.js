// A table or chart wider than the screen (a phone) scrolls sideways: a line above it says so.
"use strict";
const WIDE = ".scroll, .report table, .scorecard table, .run table, .team table, figure, .report p, .scorecard p, .run p, .team p, .guide pre";
function markWide() {
  for (const box of document.querySelectorAll(WIDE)) {
    if (box.tagName === "P" && !box.querySelector(":scope > img")) continue;  // a paragraph scrolls only round a chart
    if (box.closest(".scroll") && box !== box.closest(".scroll")) continue;  // (its scrolling box says it)
    const wide = box.scrollWidth > box.clientWidth + 2;
    let hint = box.previousElementSibling;
    if (!hint || !hint.classList.contains("swipe")) {
      if (!wide) continue;
      hint = document.createElement("p");
      hint.className = "swipe";
      hint.textContent = "Swipe sideways to see all of it →";
      box.before(hint);
    }
    hint.hidden = !wide;
  }
}
let queued = false;
function soon() { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; markWide(); }); } }
addEventListener("load", soon);
addEventListener("resize", soon);
// only a table or a chart coming (a scorecard, a run's table) is looked at again, not each tick of the live screen
const bringsBoxes = (node) => node.nodeType === 1 && !node.classList.contains("swipe") && (node.matches("table, figure, img") || node.querySelector("table, figure, img"));
new MutationObserver((changes) => { if (changes.some((c) => [...c.addedNodes].some(bringsBoxes))) soon(); })
  .observe(document.querySelector("main"), { childList: true, subtree: true });
