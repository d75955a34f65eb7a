/* After the login page has shown, fetch the files the pages after it use into the cache while
   the password is typed: the stylesheet as a print sheet (it blocks nothing), the scripts as
   scripts (each does nothing on a page that is not its own; HTMX then sends the login itself,
   so the home page comes in the login's answer). fetch() and rel=prefetch filled a cache that
   Chromium did not reuse for the next page's own <script>. Started on "load" so that none of it
   delays the login page. Inline, allowed by its hash. */
addEventListener("load", function () {
  var list = document.querySelector('meta[name="farcare-warm"]');
  if (!list) return;
  list.content.split(" ").forEach(function (url) {
    var el;
    if (!url) return;
    if (/\.css$/.test(url)) {
      el = document.createElement("link");
      el.rel = "stylesheet";
      el.media = "print";
      el.href = url;
    } else {
      el = document.createElement("script");
      el.src = url;
    }
    document.head.appendChild(el);
  });
});
