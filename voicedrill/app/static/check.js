// Check a recording: drop it on the box (or choose it) and the form is sent.
"use strict";
const form = document.getElementById("check");
const drop = document.getElementById("drop");
const input = form.querySelector("input[type=file]");
const send = () => { document.getElementById("busy").hidden = false; form.requestSubmit(); };
["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
// a file let go beside the box is not opened by the browser in place of the page
["dragover", "drop"].forEach((name) => window.addEventListener(name, (e) => e.preventDefault()));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; send(); }
});
input.addEventListener("change", () => { if (input.files.length) send(); });
form.addEventListener("submit", () => { document.getElementById("busy").hidden = false; });
