/* The "Print" button of a printed document. A file of its own, not inline: the
   Content-Security-Policy allows scripts from 'self' only. */
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) window.print();
});
