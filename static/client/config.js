// Site settings for the map. No base tiles by default: closed networks and tests have none, and the
// villages are drawn as vector shapes. To show a base map, set TILE_LAYERS, e.g. for Tianditu
// (天地图, needs a key from lbs.tianditu.gov.cn; its WGS-84 "_w" web-mercator layers):
//   export const TILE_LAYERS = [
//     { url: "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=YOUR_KEY",
//       options: { subdomains: "01234567", maxZoom: 18, attribution: "© 天地图" } },
//   ];
export const TILE_LAYERS = [];
