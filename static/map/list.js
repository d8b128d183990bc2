// Placeholder list of the closures in effect now, until the Leaflet map lands.
const names = {active: "封闭中 closed", paused: "暂停施工 paused", upcoming: "即将封闭 upcoming"};
fetch("/api/v1/closures").then(r => r.json()).then(fc => {
  const list = document.getElementById("list");
  list.replaceChildren(...fc.features.map(f => {
    const li = document.createElement("li"), p = f.properties;
    li.textContent = `${p.road} ${p.from || ""}–${p.to || ""}: ${names[p.status] || p.status}`;
    return li;
  }));
  if (!fc.features.length) list.replaceChildren(Object.assign(document.createElement("li"), {textContent: "无 none"}));
});
