// The supervisory authorities of the EEA (Art. 51 GDPR): every national authority of the 27 EU
// member states and of Iceland, Liechtenstein and Norway, and the authorities of the German
// Länder (BDSG §§ 18, 40: the Land authorities supervise private bodies in their Land; Bavaria
// has one for the private sector, BayLDA, and one for public bodies, BayLfD).
//
// Included by `law.rs`. Names and websites as the authorities publish them. A postal address is
// given only where it was certain when this table was written; `None` means "not verified",
// never "has none" — the statement then links to the website instead. Check an address against
// the authority's site before relying on it in a letter.
//
// Ids: `<iso country>-<short name>`; German Land authorities `de-<Land code>`.

/// Every supervisory authority Custos knows, national authorities first (by country code),
/// then the German Land authorities.
pub const AUTHORITIES: &[Authority] = &[
    a("at-dsb", "AT", None, "Österreichische Datenschutzbehörde", "Austrian Data Protection Authority (Datenschutzbehörde)", "Datenschutzbehörde (Oostenrijk)", Some("Barichgasse 40–42, 1030 Wien, Austria"), "https://www.dsb.gv.at"),
    a("be-gba", "BE", None, "Gegevensbeschermingsautoriteit / Autorité de protection des données", "Belgian Data Protection Authority (Gegevensbeschermingsautoriteit)", "Gegevensbeschermingsautoriteit (België)", Some("Drukpersstraat 35, 1000 Brussel, Belgium"), "https://www.gegevensbeschermingsautoriteit.be"),
    a("bg-cpdp", "BG", None, "Комисия за защита на личните данни", "Commission for Personal Data Protection (Bulgaria)", "Commissie voor de bescherming van persoonsgegevens (Bulgarije)", None, "https://www.cpdp.bg"),
    a("cy-dpc", "CY", None, "Γραφείο Επιτρόπου Προστασίας Δεδομένων Προσωπικού Χαρακτήρα", "Commissioner for Personal Data Protection (Cyprus)", "Commissaris voor de bescherming van persoonsgegevens (Cyprus)", None, "https://www.dataprotection.gov.cy"),
    a("cz-uoou", "CZ", None, "Úřad pro ochranu osobních údajů", "Office for Personal Data Protection (Czech Republic)", "Úřad pro ochranu osobních údajů (Tsjechië)", None, "https://www.uoou.cz"),
    a("de-bfdi", "DE", None, "Die Bundesbeauftragte für den Datenschutz und die Informationsfreiheit", "Federal Commissioner for Data Protection and Freedom of Information (Germany)", "Bundesbeauftragte für den Datenschutz und die Informationsfreiheit (Duitsland)", Some("Graurheindorfer Straße 153, 53117 Bonn, Germany"), "https://www.bfdi.bund.de"),
    a("dk-datatilsynet", "DK", None, "Datatilsynet", "Danish Data Protection Agency (Datatilsynet)", "Datatilsynet (Denemarken)", Some("Carl Jacobsens Vej 35, 2500 Valby, Denmark"), "https://www.datatilsynet.dk"),
    a("ee-aki", "EE", None, "Andmekaitse Inspektsioon", "Estonian Data Protection Inspectorate", "Andmekaitse Inspektsioon (Estland)", Some("Tatari 39, 10134 Tallinn, Estonia"), "https://www.aki.ee"),
    a("es-aepd", "ES", None, "Agencia Española de Protección de Datos", "Spanish Data Protection Agency (AEPD)", "Agencia Española de Protección de Datos (Spanje)", Some("C/ Jorge Juan 6, 28001 Madrid, Spain"), "https://www.aepd.es"),
    a("fi-tietosuoja", "FI", None, "Tietosuojavaltuutetun toimisto", "Office of the Data Protection Ombudsman (Finland)", "Tietosuojavaltuutetun toimisto (Finland)", None, "https://tietosuoja.fi"),
    a("fr-cnil", "FR", None, "Commission nationale de l'informatique et des libertés", "Commission nationale de l'informatique et des libertés (France)", "Commission nationale de l'informatique et des libertés (Frankrijk)", Some("3 Place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, France"), "https://www.cnil.fr"),
    a("gr-hdpa", "GR", None, "Αρχή Προστασίας Δεδομένων Προσωπικού Χαρακτήρα", "Hellenic Data Protection Authority", "Hellenic Data Protection Authority (Griekenland)", Some("Kifisias 1–3, 115 23 Athens, Greece"), "https://www.dpa.gr"),
    a("hr-azop", "HR", None, "Agencija za zaštitu osobnih podataka", "Croatian Personal Data Protection Agency (AZOP)", "Agencija za zaštitu osobnih podataka (Kroatië)", None, "https://azop.hr"),
    a("hu-naih", "HU", None, "Nemzeti Adatvédelmi és Információszabadság Hatóság", "Hungarian National Authority for Data Protection and Freedom of Information (NAIH)", "Nemzeti Adatvédelmi és Információszabadság Hatóság (Hongarije)", None, "https://naih.hu"),
    a("ie-dpc", "IE", None, "Data Protection Commission", "Data Protection Commission (Ireland)", "Data Protection Commission (Ierland)", Some("21 Fitzwilliam Square South, Dublin 2, D02 RD28, Ireland"), "https://www.dataprotection.ie"),
    a("is-personuvernd", "IS", None, "Persónuvernd", "Icelandic Data Protection Authority (Persónuvernd)", "Persónuvernd (IJsland)", None, "https://www.personuvernd.is"),
    a("it-garante", "IT", None, "Garante per la protezione dei dati personali", "Italian Data Protection Authority (Garante)", "Garante per la protezione dei dati personali (Italië)", Some("Piazza Venezia 11, 00187 Roma, Italy"), "https://www.garanteprivacy.it"),
    a("li-dss", "LI", None, "Datenschutzstelle Liechtenstein", "Data Protection Authority of Liechtenstein (Datenschutzstelle)", "Datenschutzstelle (Liechtenstein)", None, "https://www.datenschutzstelle.li"),
    a("lt-vdai", "LT", None, "Valstybinė duomenų apsaugos inspekcija", "State Data Protection Inspectorate (Lithuania)", "Valstybinė duomenų apsaugos inspekcija (Litouwen)", None, "https://vdai.lrv.lt"),
    a("lu-cnpd", "LU", None, "Commission nationale pour la protection des données", "National Commission for Data Protection (Luxembourg)", "Commission nationale pour la protection des données (Luxemburg)", Some("15, Boulevard du Jazz, L-4370 Belvaux, Luxembourg"), "https://cnpd.public.lu"),
    a("lv-dvi", "LV", None, "Datu valsts inspekcija", "Data State Inspectorate (Latvia)", "Datu valsts inspekcija (Letland)", None, "https://www.dvi.gov.lv"),
    a("mt-idpc", "MT", None, "Information and Data Protection Commissioner", "Information and Data Protection Commissioner (Malta)", "Information and Data Protection Commissioner (Malta)", None, "https://idpc.org.mt"),
    Authority {
        dpv: Some("https://w3id.org/dpv/legal/nl#DPA-NL"),
        ..a("nl-ap", "NL", None, "Autoriteit Persoonsgegevens", "Dutch Data Protection Authority (Autoriteit Persoonsgegevens)", "Autoriteit Persoonsgegevens", Some("Postbus 93374, 2509 AJ Den Haag, the Netherlands"), "https://autoriteitpersoonsgegevens.nl")
    },
    a("no-datatilsynet", "NO", None, "Datatilsynet", "Norwegian Data Protection Authority (Datatilsynet)", "Datatilsynet (Noorwegen)", None, "https://www.datatilsynet.no"),
    a("pl-uodo", "PL", None, "Urząd Ochrony Danych Osobowych", "Personal Data Protection Office (Poland)", "Urząd Ochrony Danych Osobowych (Polen)", Some("ul. Stawki 2, 00-193 Warszawa, Poland"), "https://uodo.gov.pl"),
    a("pt-cnpd", "PT", None, "Comissão Nacional de Proteção de Dados", "National Data Protection Commission (Portugal)", "Comissão Nacional de Proteção de Dados (Portugal)", None, "https://www.cnpd.pt"),
    a("ro-anspdcp", "RO", None, "Autoritatea Națională de Supraveghere a Prelucrării Datelor cu Caracter Personal", "National Supervisory Authority for Personal Data Processing (Romania)", "Autoritatea Națională de Supraveghere a Prelucrării Datelor cu Caracter Personal (Roemenië)", None, "https://www.dataprotection.ro"),
    a("se-imy", "SE", None, "Integritetsskyddsmyndigheten", "Swedish Authority for Privacy Protection (IMY)", "Integritetsskyddsmyndigheten (Zweden)", Some("Box 8114, 104 20 Stockholm, Sweden"), "https://www.imy.se"),
    a("si-ip", "SI", None, "Informacijski pooblaščenec", "Information Commissioner (Slovenia)", "Informacijski pooblaščenec (Slovenië)", Some("Dunajska cesta 22, 1000 Ljubljana, Slovenia"), "https://www.ip-rs.si"),
    a("sk-uoou", "SK", None, "Úrad na ochranu osobných údajov Slovenskej republiky", "Office for Personal Data Protection of the Slovak Republic", "Úrad na ochranu osobných údajov (Slowakije)", None, "https://dataprotection.gov.sk"),
    // German Land authorities (supervise private bodies established in their Land).
    a("de-bw", "DE", Some("BW"), "Der Landesbeauftragte für den Datenschutz und die Informationsfreiheit Baden-Württemberg", "Data Protection Commissioner of Baden-Württemberg", "Landesbeauftragte für den Datenschutz Baden-Württemberg (Duitsland)", Some("Lautenschlagerstraße 20, 70173 Stuttgart, Germany"), "https://www.baden-wuerttemberg.datenschutz.de"),
    a("de-by-lda", "DE", Some("BY"), "Bayerisches Landesamt für Datenschutzaufsicht", "Bavarian Data Protection Authority for the private sector (BayLDA)", "Bayerisches Landesamt für Datenschutzaufsicht (Duitsland)", Some("Promenade 18, 91522 Ansbach, Germany"), "https://www.lda.bayern.de"),
    a("de-by-lfd", "DE", Some("BY"), "Der Bayerische Landesbeauftragte für den Datenschutz", "Bavarian Data Protection Commissioner for public bodies (BayLfD)", "Bayerische Landesbeauftragte für den Datenschutz (Duitsland)", None, "https://www.datenschutz-bayern.de"),
    a("de-be", "DE", Some("BE"), "Berliner Beauftragte für Datenschutz und Informationsfreiheit", "Berlin Commissioner for Data Protection and Freedom of Information", "Berliner Beauftragte für Datenschutz und Informationsfreiheit (Duitsland)", None, "https://www.datenschutz-berlin.de"),
    a("de-bb", "DE", Some("BB"), "Die Landesbeauftragte für den Datenschutz und für das Recht auf Akteneinsicht Brandenburg", "Data Protection Commissioner of Brandenburg", "Landesbeauftragte für den Datenschutz Brandenburg (Duitsland)", None, "https://www.lda.brandenburg.de"),
    a("de-hb", "DE", Some("HB"), "Die Landesbeauftragte für Datenschutz und Informationsfreiheit der Freien Hansestadt Bremen", "Data Protection Commissioner of Bremen", "Landesbeauftragte für Datenschutz Bremen (Duitsland)", None, "https://www.datenschutz.bremen.de"),
    a("de-hh", "DE", Some("HH"), "Der Hamburgische Beauftragte für Datenschutz und Informationsfreiheit", "Hamburg Commissioner for Data Protection and Freedom of Information", "Hamburgische Beauftragte für Datenschutz und Informationsfreiheit (Duitsland)", Some("Ludwig-Erhard-Straße 22, 20459 Hamburg, Germany"), "https://datenschutz-hamburg.de"),
    a("de-he", "DE", Some("HE"), "Der Hessische Beauftragte für Datenschutz und Informationsfreiheit", "Hessian Commissioner for Data Protection and Freedom of Information", "Hessische Beauftragte für Datenschutz und Informationsfreiheit (Duitsland)", Some("Gustav-Stresemann-Ring 1, 65189 Wiesbaden, Germany"), "https://datenschutz.hessen.de"),
    a("de-mv", "DE", Some("MV"), "Der Landesbeauftragte für Datenschutz und Informationsfreiheit Mecklenburg-Vorpommern", "Data Protection Commissioner of Mecklenburg-Western Pomerania", "Landesbeauftragte für Datenschutz Mecklenburg-Vorpommern (Duitsland)", None, "https://www.datenschutz-mv.de"),
    a("de-ni", "DE", Some("NI"), "Der Landesbeauftragte für den Datenschutz Niedersachsen", "Data Protection Commissioner of Lower Saxony", "Landesbeauftragte für den Datenschutz Niedersachsen (Duitsland)", Some("Prinzenstraße 5, 30159 Hannover, Germany"), "https://lfd.niedersachsen.de"),
    a("de-nw", "DE", Some("NW"), "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen", "Data Protection Commissioner of North Rhine-Westphalia", "Landesbeauftragte für Datenschutz Nordrhein-Westfalen (Duitsland)", Some("Kavalleriestraße 2–4, 40213 Düsseldorf, Germany"), "https://www.ldi.nrw.de"),
    a("de-rp", "DE", Some("RP"), "Der Landesbeauftragte für den Datenschutz und die Informationsfreiheit Rheinland-Pfalz", "Data Protection Commissioner of Rhineland-Palatinate", "Landesbeauftragte für den Datenschutz Rheinland-Pfalz (Duitsland)", Some("Hintere Bleiche 34, 55116 Mainz, Germany"), "https://www.datenschutz.rlp.de"),
    a("de-sl", "DE", Some("SL"), "Unabhängiges Datenschutzzentrum Saarland", "Independent Data Protection Centre of Saarland", "Unabhängiges Datenschutzzentrum Saarland (Duitsland)", None, "https://www.datenschutz.saarland.de"),
    a("de-sn", "DE", Some("SN"), "Sächsische Datenschutz- und Transparenzbeauftragte", "Saxon Data Protection and Transparency Commissioner", "Sächsische Datenschutz- und Transparenzbeauftragte (Duitsland)", None, "https://www.datenschutz.sachsen.de"),
    a("de-st", "DE", Some("ST"), "Landesbeauftragter für den Datenschutz Sachsen-Anhalt", "Data Protection Commissioner of Saxony-Anhalt", "Landesbeauftragte für den Datenschutz Sachsen-Anhalt (Duitsland)", None, "https://datenschutz.sachsen-anhalt.de"),
    a("de-sh", "DE", Some("SH"), "Unabhängiges Landeszentrum für Datenschutz Schleswig-Holstein", "Independent Centre for Privacy Protection Schleswig-Holstein (ULD)", "Unabhängiges Landeszentrum für Datenschutz Schleswig-Holstein (Duitsland)", Some("Holstenstraße 98, 24103 Kiel, Germany"), "https://www.datenschutzzentrum.de"),
    a("de-th", "DE", Some("TH"), "Thüringer Landesbeauftragter für den Datenschutz und die Informationsfreiheit", "Thuringian Commissioner for Data Protection and Freedom of Information", "Thüringer Landesbeauftragte für den Datenschutz (Duitsland)", None, "https://www.tlfdi.de"),
];
