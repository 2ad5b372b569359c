// The localvision service a flow talks to: its address, and an API key kept as a credential
// (never in the flow file). LOCALVISION_API_KEY in Node-RED's environment is used when the
// key is left empty, so one flow file serves every machine.
module.exports = function (RED) {
    function LocalVisionConfig(config) {
        RED.nodes.createNode(this, config);
        this.url = (config.url || "http://127.0.0.1:8000").replace(/\/+$/, "");
        this.apiKey = (this.credentials && this.credentials.apiKey) || process.env.LOCALVISION_API_KEY || "";
    }
    RED.nodes.registerType("localvision-config", LocalVisionConfig, {
        credentials: { apiKey: { type: "password" } },
    });
};
