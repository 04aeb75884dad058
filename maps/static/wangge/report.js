// The evaluation report's controls: print (the browser's "Save as PDF" makes the file).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
