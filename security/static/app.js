// fixture for the disclosure scan: the only script the static tree holds
document.title = "machi console";
