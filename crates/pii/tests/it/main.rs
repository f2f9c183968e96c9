mod accuracy;
