// 公数 shell behaviour: send the CSRF token with every htmx request.
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (evt) {
    if (meta) evt.detail.headers["X-CSRF-Token"] = meta.content;
  });
})();
